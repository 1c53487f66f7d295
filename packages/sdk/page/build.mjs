// Bundles the dashboard page (page/main.ts with uPlot and its CSS) into one self-contained
// dist/dashboard.html that the SDK's dashboard handler serves: no CDN, no second request.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = (path) => fileURLToPath(new URL(path, import.meta.url));
const result = await build({
  entryPoints: [here('./main.ts')],
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'es2020',
  platform: 'browser',
  outdir: here('../dist/page'),
  write: false,
  legalComments: 'none',
});
const output = (ext) => result.outputFiles.find((f) => f.path.endsWith(ext))?.text ?? '';
// `</script` inside the bundle would end the inline script early.
const script = output('.js').replaceAll('</script', '<\\/script');
const html = readFileSync(here('./index.html'), 'utf8')
  .replace('/*STYLE*/', () => output('.css'))
  .replace('/*SCRIPT*/', () => script);
writeFileSync(here('../dist/dashboard.html'), html);
