from nncaption.cli.main import main

raise SystemExit(main())
