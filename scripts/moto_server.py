"""The local AWS emulator: moto's server, with rtech's shims applied before it starts.

The one launcher every test and the demo use; later tiers add their documented shims here
(../shared/EMULATOR.md: DocumentDB engine, ...). Usage: moto_server.py -H 127.0.0.1 -p PORT
"""
import sys

from moto.server import main

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
