from branchml.cli.main import entry

entry()
