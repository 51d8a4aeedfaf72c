"""The package's version: written by ``npm run version:sync`` from the repository's package.json, the one place it is set."""

__version__ = "0.1.0"
