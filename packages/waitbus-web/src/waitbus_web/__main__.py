from waitbus_web import main

raise SystemExit(main())
