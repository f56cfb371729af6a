"""One module per CLI subcommand: ``add_parser(subparsers, help)`` and ``main(args)``."""
