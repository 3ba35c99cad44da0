"""Pure model of branchml: no pygit2, no subprocess, no printing, no filesystem."""
