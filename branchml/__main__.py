from branchml.main import entry

entry()
