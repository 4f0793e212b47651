import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium (or FEATSHIFT_CHROMIUM); featshift never downloads a browser. */
export function chromiumPath(): string {
  const path = process.env.FEATSHIFT_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(path)) {
    throw new Error(
      `no Chromium at ${path}: install Debian's chromium (sudo apt-get install chromium) or set FEATSHIFT_CHROMIUM`,
    );
  }
  return path;
}

/**
 * Headless Chromium for figure export and browser tests: no background networking (this machine
 * may have none), software WebGL (SwiftShader) for Plotly's 3D scatters, and a sandbox only when
 * not root.
 */
export function launchChromium(): Promise<Browser> {
  const args = [
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-quic',
    '--no-first-run',
    '--use-angle=swiftshader',
    '--enable-unsafe-swiftshader',
  ];
  if (process.getuid?.() === 0) args.push('--no-sandbox');
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args });
}
