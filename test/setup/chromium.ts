import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { expect } from 'vitest';

// Debian's Chromium for the browser tests (`apt-get install -y chromium`; .ci/run installs it):
// Playwright's own browser download needs the internet.

function findChromium(): string {
  const given = process.env.CHROMIUM_PATH;
  if (given) {
    if (!existsSync(given))
      throw new Error(`CHROMIUM_PATH=${given}: no such file (install Chromium: apt-get install -y chromium)`);
    return given;
  }
  try {
    return execFileSync('sh', ['-c', 'command -v chromium || command -v chromium-browser'], {
      encoding: 'utf8',
    }).trim();
  } catch {
    throw new Error(
      'Chromium is not installed: this test needs it. Install it with `apt-get install -y chromium` ' +
        '(or set CHROMIUM_PATH to a Chromium binary).',
    );
  }
}

/** Headless Chromium in which no host name but 127.0.0.1 resolves. */
export function launchChromium(timeoutMs: number): Promise<Browser> {
  return chromium.launch({
    executablePath: findChromium(),
    // Root in a container: Chromium's sandbox needs user namespaces it does not get. No name
    // but the gateway's resolves, in case a request escaped a test's route.
    args: ['--no-sandbox', '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1'],
    timeout: timeoutMs,
  });
}

/** Width and height from a PNG's IHDR chunk, after checking the signature. */
export function pngSize(png: Buffer): { width: number; height: number } {
  expect(png.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);
  expect(png.toString('latin1', 12, 16)).toBe('IHDR');
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}
