// Parse Mermaid files with the real Mermaid parser (the npm package, in a jsdom window):
// `node mermaid_parse.mjs NODE_MODULES FILE...` prints one line per file, "OK <type>" or "FAIL <error>".
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const [modules, ...files] = process.argv.slice(2);
const require = createRequire(path.join(modules, 'noop.js'));
const { JSDOM } = require('jsdom');
const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const entry = path.join(modules, 'mermaid', 'dist', 'mermaid.core.mjs');
const { default: mermaid } = await import(pathToFileURL(entry).href);
for (const file of files) {
  try {
    const result = await mermaid.parse(fs.readFileSync(file, 'utf8'));
    console.log(`OK ${result.diagramType}`);
  } catch (error) {
    console.log(`FAIL ${String(error.message || error).split('\n').slice(0, 3).join(' | ')}`);
  }
}
