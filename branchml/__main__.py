from branchml.main import main

raise SystemExit(main())
