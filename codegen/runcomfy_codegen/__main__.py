from runcomfy_codegen.cli import main

raise SystemExit(main())
