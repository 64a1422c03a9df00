from spectragram_bench.app import main

raise SystemExit(main())
