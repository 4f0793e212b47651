import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { launchChromium, openPage } from './browser.js';

/**
 * Renders the report's main figures to image files in `dir`, in headless Chromium with Plotly's own
 * exporter: `<run>-<figure>.png` (or .svg) for every run and figure.
 */
export async function exportFigures(
  htmlPath: string,
  dir: string,
  format: 'png' | 'svg',
): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const browser = await launchChromium();
  try {
    const page = await openPage(browser, { viewport: { width: 1600, height: 1200 } });
    await page.goto(pathToFileURL(htmlPath).href);
    await page.waitForFunction(() => 'featshiftReport' in globalThis);
    const images = await page.evaluate(async (fmt) => {
      // Runs in the page: its globals, typed here without the DOM library.
      const w = globalThis as unknown as {
        featshiftReport: { data: { runs: { name: string }[] }; plotIds: string[] };
        Plotly: { toImage(gd: unknown, o: Record<string, unknown>): Promise<string> };
        document: { getElementById(id: string): unknown };
      };
      const out: { name: string; url: string }[] = [];
      const ids = [...w.featshiftReport.plotIds, 'widths', 'curves'];
      for (let r = 0; r < w.featshiftReport.data.runs.length; r++) {
        for (const id of ids) {
          const gd = w.document.getElementById(`${id}-${r}`);
          if (!gd) continue;
          out.push({
            name: `${r + 1}-${id}`,
            url: await w.Plotly.toImage(gd, { format: fmt, width: 1000, height: 750 }),
          });
        }
      }
      return out;
    }, format);
    const written: string[] = [];
    for (const { name, url } of images) {
      const path = join(dir, `${name}.${format}`);
      const comma = url.indexOf(',');
      const head = url.slice(0, comma);
      const body = url.slice(comma + 1);
      await writeFile(
        path,
        head.endsWith(';base64') ? Buffer.from(body, 'base64') : decodeURIComponent(body),
      );
      written.push(path);
    }
    return written;
  } finally {
    await browser.close();
  }
}
