#!/usr/bin/env node
// What the package manager links at install time, before dist/ is built: the built command line.
import '../dist/cli.js';
