"""What users run: the ``localcloud`` command and its subcommands, the daemon, the demo, publishing."""
