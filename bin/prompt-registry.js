#!/usr/bin/env node
// The compiled CLI (npm run build). From a checkout, `npm run cli -- ...` runs the sources directly.
import '../dist/server/cli.js';
