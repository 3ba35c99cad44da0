"""The doors to the repository: pygit2 objects and refs (`objectstore`), the fast git CLI
reader (`reader`), the working tree (`worktree`), git-lfs (`lfs`), loose objects, every
subprocess (`proc`), the repository lock, the operation log, recovery of killed runs, the hook
installer and the one apply layer. Imports only `core`, `errors`, `config` and `resources`
from branchml: never content moves, commands or the CLI."""
