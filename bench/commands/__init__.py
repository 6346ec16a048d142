"""One module per `infer-bench` subcommand: `register(subparsers)` sets `func(args) -> int`."""
