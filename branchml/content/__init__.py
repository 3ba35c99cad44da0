"""Content moves: one file's merge by its strategy (`strategies`), three trees merged in
memory (`treemerge`), the SQLite and Parquet merges, the row helper process, validation of
pulled rows, release manifests and data snapshots. Built on `repo` and `core`; never imports
the commands (`ops`), the library API or the CLI."""
