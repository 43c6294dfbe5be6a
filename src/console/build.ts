import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

// The console's assets, bundled by esbuild from client/ when the gateway first serves them (no
// build step to forget, nothing fetched from elsewhere): one script, one stylesheet, one page.

export interface ConsoleAssets {
  html: string;
  script: string;
  style: string;
}

const clientDir = fileURLToPath(new URL('./client/', import.meta.url));

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ipdr-gateway console</title>
<link rel="stylesheet" href="/console/console.css">
<script type="module" src="/console/console.js"></script>
</head>
<body>
<div id="app"><main><p>Loading the console…</p><noscript>The console needs JavaScript.</noscript></main></div>
</body>
</html>
`;

export async function buildConsoleAssets(): Promise<ConsoleAssets> {
  const result = await build({
    entryPoints: [`${clientDir}main.ts`, `${clientDir}style.css`],
    bundle: true,
    write: false,
    outdir: 'console',
    format: 'esm',
    target: ['es2022'],
    minify: true,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const output = (extension: string) => result.outputFiles.find((file) => file.path.endsWith(extension))!.text;
  return { html: PAGE, script: output('.js'), style: output('.css') };
}
