import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core';

/**
 * How long a page may take to load and draw. Chromium's first start on a fresh machine builds its
 * profile, font and shader caches (a first report page once took over 30 s on a new machine, and
 * 1 s from then on), so no wait is tuned to a warm machine: a waited-for condition that holds
 * returns at once, whatever this limit.
 */
export const PAGE_TIMEOUT_MS = 180_000;

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
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args,
    timeout: PAGE_TIMEOUT_MS,
  });
}

/** A new page whose navigations and waits allow for a cold first start ({@link PAGE_TIMEOUT_MS}). */
export async function openPage(
  browser: Browser,
  options: Pick<BrowserContextOptions, 'viewport'> = {},
): Promise<Page> {
  const page = await browser.newPage(options);
  page.setDefaultTimeout(PAGE_TIMEOUT_MS);
  page.setDefaultNavigationTimeout(PAGE_TIMEOUT_MS);
  return page;
}
