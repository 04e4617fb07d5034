"""``llmxai-widgets``: figures from a shell, on the bundled model or any local model folder.

    llmxai-widgets figure attention --text "The capital of France is Paris." --layer 3 --head 2 -o fig.pdf
    llmxai-widgets figure attention --text "..." --aggregate mean -o fig.svg -o fig.png --width 3.5in
"""

from __future__ import annotations

import argparse
import sys


def _range(value: str) -> tuple[int, int]:
    try:
        start, stop = value.split(":")
        return int(start or 0), int(stop)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected START:STOP token indices such as 0:20, got {value!r}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="llmxai-widgets", description="Figures of what happens inside a transformer.")
    commands = parser.add_subparsers(dest="command", required=True)
    figure = commands.add_parser("figure", help="write a view as SVG, PDF, PNG or standalone HTML")
    kinds = figure.add_subparsers(dest="kind", required=True)
    att = kinds.add_parser("attention", help="an attention matrix (one head, or mean/max/rollout/flow)")
    att.add_argument("--text", required=True, help="the text (an encoder-decoder's source text)")
    att.add_argument("--text-pair", help="second sentence, for sentence-pair encoders")
    att.add_argument("--target", help="encoder-decoders: the decoder's text (default: its greedy output)")
    att.add_argument("--part", choices=("cross", "encoder", "decoder"), help="encoder-decoders: which attention")
    att.add_argument("--model", default="smollm2",
                     help="'smollm2' (bundled, default), 'minilm' (bundled) or a local model folder")
    att.add_argument("--layer", type=int, default=0)
    att.add_argument("--head", type=int, default=0)
    att.add_argument("--aggregate", default="head", choices=("head", "mean", "max", "rollout", "flow"))
    att.add_argument("--pair-filter", default="all", choices=("all", "AA", "AB", "BA", "BB"))
    att.add_argument("--tokens", type=_range, help="START:STOP: only these query and key tokens")
    att.add_argument("--view", default="matrix", choices=("matrix", "head", "model", "summary", "querykey"),
                     help="which view: the matrix (default), head view (lines), model view (every head), "
                          "head summary, or query x key")
    att.add_argument("--layers", type=int, nargs="+", help="model/summary views: only these layers")
    att.add_argument("--heads", type=int, nargs="+", help="model/head views: only these heads")
    att.add_argument("--score", help="summary view: sink, previous_token, entropy, entropy_normalised, induction")
    att.add_argument("--query", type=int, help="query x key view: the query token (default: the last)")
    att.add_argument("-o", "--output", action="append", required=True,
                     help="file to write (.svg, .pdf, .png or .html); repeat for several")
    style = att.add_argument_group("figure options")
    style.add_argument("--width", help="figure width: 3.5in, 252pt, 9cm (default: 12 pt per token)")
    style.add_argument("--height", help="figure height")
    style.add_argument("--font-family", default="DejaVu Sans")
    style.add_argument("--font-size", type=float, default=8.0, help="points")
    style.add_argument("--colormap", default="viridis", help="viridis, cividis, magma or RdBu_r")
    style.add_argument("--no-colorbar", action="store_true")
    style.add_argument("--colorbar-label", default="attention weight")
    style.add_argument("--title")
    style.add_argument("--rotation", type=float, default=60.0, help="key label angle in degrees (0-90)")
    style.add_argument("--log", action="store_true", help="log colour scale (three decades)")
    style.add_argument("--exclude-first", action="store_true", help="leave the first token out of the colour scale")
    style.add_argument("--theme", default="light", choices=("light", "dark"))
    style.add_argument("--dpi", type=float, default=200.0, help="PNG resolution")
    return parser


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    import llmxai_widgets as lx

    try:
        model = lx.load_model(args.model)
        view = lx.AttentionView(
            model, args.text, text_pair=args.text_pair, target=args.target, part=args.part,
            layer=args.layer, head=args.head, background=False,
        )
        view.show(aggregate=args.aggregate, pair_filter=args.pair_filter, mode=args.view)
        if args.view == "summary":
            view.wait()
            view._fill_summary()  # the view fills it in a thread when the tab opens; here, now
        if view.error:
            raise ValueError(view.error)
        options = {
            "width": args.width, "height": args.height, "font_family": args.font_family,
            "font_size": args.font_size, "colormap": args.colormap, "colorbar": not args.no_colorbar,
            "colorbar_label": args.colorbar_label, "title": args.title, "rotation": args.rotation,
            "log": args.log, "exclude_first": args.exclude_first, "theme": args.theme, "dpi": args.dpi,
        }
        if args.tokens:
            options["tokens"] = args.tokens
        extra = {"layers": args.layers, "heads": args.heads, "score": args.score, "query": args.query}
        allowed = {"model": ("layers", "heads"), "summary": ("score", "layers"), "head": ("heads",),
                   "querykey": ("query",), "matrix": ()}[args.view]
        for name, value in extra.items():
            if value is None:
                continue
            if name not in allowed:
                raise ValueError(f"--{name} does not apply to --view {args.view}")
            options[name] = value
        for output in args.output:
            if output.lower().endswith(".html"):
                view.save(output)
            else:
                view.save(output, **options)
            print(output)
    except (ValueError, IndexError, TypeError, NotImplementedError, OSError) as err:
        print(f"llmxai-widgets: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
