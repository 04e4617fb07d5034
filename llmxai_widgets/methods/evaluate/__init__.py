"""Evaluating explanations: faithfulness (does removing what they call important change the output?), plausibility (do they agree with a person?) and agreement between methods."""
