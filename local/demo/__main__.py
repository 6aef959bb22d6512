import sys

from local.demo.cli import main

sys.exit(main())
