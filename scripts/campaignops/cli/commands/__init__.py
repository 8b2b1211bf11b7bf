"""One module per `campaign` subcommand: add_arguments(parser) and run(args) -> int."""
