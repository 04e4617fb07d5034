"""Using what is found inside: probes, steering vectors, rank-one edits."""
