/// <reference lib="dom" />
// This file drives a real browser: page.evaluate callbacks run there, with its DOM.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser } from 'playwright-core';
import { launchChromium, openPage } from '../src/report/browser.js';
import { runCli } from './helpers/cli.js';
import { repoRoot } from './helpers/paths.js';
import { csvRun, halvingRun, jsonlRun, linearRun, records, seeded } from './helpers/report-runs.js';

/**
 * The report as a reader sees it at 1280 px: a seeded run, a halving run and two runs side by side,
 * each checked for what a reader would notice (a clipped title, a mark nobody explains, an
 * accuracy axis past 100 %, a page wider than the window) and saved as a screenshot.
 * `npm run report:screens` runs this file alone: the pictures land in test-artifacts/report.
 */
const SCREENS = join(repoRoot, 'test-artifacts', 'report');
const WIDTH = 1280;

/** What a page's check found wrong, one sentence each (empty: nothing). */
interface PageProblems {
  overflow: string[];
  clipped: string[];
  unexplained: string[];
  accuracyAxes: string[];
  plots: number;
}

/** Runs in the page: every problem the issue names, found by looking at the drawn figures. */
function findProblems(): PageProblems {
  interface Trace {
    type?: string;
    mode?: string;
    name?: string;
    legendgroup?: string;
    showlegend?: boolean;
    visible?: boolean | string;
    dimensions?: { label: string; range?: number[] }[];
  }
  interface Axis {
    range?: number[];
    title?: { text?: string };
    type?: string;
  }
  interface Plot extends HTMLElement {
    _fullData: Trace[];
    _fullLayout: Record<string, unknown> & { showlegend?: boolean };
  }
  const inside = (box: DOMRect, outer: DOMRect): boolean =>
    box.left >= outer.left - 1 &&
    box.right <= outer.right + 1 &&
    box.top >= outer.top - 1 &&
    box.bottom <= outer.bottom + 1;
  const found: PageProblems = {
    overflow: [],
    clipped: [],
    unexplained: [],
    accuracyAxes: [],
    plots: 0,
  };
  const width = document.documentElement.clientWidth;
  if (document.documentElement.scrollWidth > width)
    found.overflow.push(`the page is ${document.documentElement.scrollWidth} px wide in ${width}`);
  for (const node of Array.from(document.querySelectorAll('body *'))) {
    // A scrolling table may be wider than its box: what scrolls is inside, not past the page.
    if (node.closest('.table-scroll') && !node.classList.contains('table-scroll')) continue;
    // A plot's drawing lies inside its div, which is checked itself.
    if (node.closest('svg')) continue;
    const box = node.getBoundingClientRect();
    if (box.width > 0 && box.right > width + 1 && found.overflow.length < 10)
      found.overflow.push(
        `${node.tagName.toLowerCase()}${node.id ? `#${node.id}` : `.${node.className}`} ends at ${Math.round(box.right)} px`,
      );
  }
  for (const gd of Array.from(document.querySelectorAll<Plot>('.js-plotly-plot'))) {
    found.plots++;
    const outer = gd.getBoundingClientRect();
    const texts = gd.querySelectorAll<SVGTextElement>(
      'text.gtitle, text[class$="title"], .legend, .cbtitle text, .y-axis .axis-title',
    );
    for (const t of Array.from(texts)) {
      const box = t.getBoundingClientRect();
      if (box.width > 0 && !inside(box, outer))
        found.clipped.push(`#${gd.id}: '${t.textContent}' lies outside its plot`);
    }
    const traces = gd._fullData;
    const shown = gd._fullLayout.showlegend !== false;
    const entry = (t: Trace): string => t.legendgroup || t.name || '';
    for (const t of traces) {
      if (t.visible === false || t.type === 'parcoords') continue;
      const marks = (t.mode ?? '').includes('markers') || t.type === 'bar';
      if (!marks) continue;
      const explained =
        shown &&
        traces.some(
          (u) => entry(u) === entry(t) && u.showlegend !== false && (u.name ?? '') !== '',
        );
      if (!explained)
        found.unexplained.push(`#${gd.id}: the marks of '${t.name ?? '?'}' have no legend entry`);
    }
    for (const [key, value] of Object.entries(gd._fullLayout)) {
      if (!/^[xy]axis\d*$/.test(key)) continue;
      const a = value as Axis;
      const title = a.title?.text ?? '';
      if (!title.includes('%') || a.type === 'log') continue;
      const [low, high] = a.range ?? [];
      if (low === undefined || high === undefined || low < 0 || high > 100)
        found.accuracyAxes.push(`#${gd.id} ${key} '${title}' runs ${low} to ${high}`);
    }
    for (const t of traces)
      for (const d of t.dimensions ?? []) {
        const [low, high] = d.range ?? [];
        if (
          d.label.includes('%') &&
          (low === undefined || high === undefined || low < 0 || high > 100)
        )
          found.accuracyAxes.push(`#${gd.id} axis '${d.label}' runs ${low} to ${high}`);
      }
  }
  return found;
}

describe('the report at 1280 px: nothing clipped, every mark explained, accuracy within 0-100 %', () => {
  let browser: Browser;
  const root = mkdtempSync(join(tmpdir(), 'featshift-pages-'));

  before(async () => {
    mkdirSync(SCREENS, { recursive: true });
    browser = await launchChromium();
  });
  after(async () => {
    await browser.close();
  });

  /** Writes the report of `dirs`, opens it at 1280 px, saves its screenshot, and checks it. */
  async function check(name: string, dirs: string[]): Promise<PageProblems> {
    const html = join(root, `${name}.html`);
    const r = runCli(['report', ...dirs, '-o', html]);
    assert.equal(r.status, 0, r.stderr);
    const page = await openPage(browser, { viewport: { width: WIDTH, height: 1000 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    await page.goto(pathToFileURL(html).href);
    await page.waitForFunction(
      (n) => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n,
      dirs.length * 12,
    );
    // Plotly lays out its margins (automargin, legends) in a second pass.
    await page.waitForTimeout(500);
    await page.screenshot({ path: join(SCREENS, `${name}.png`), fullPage: true });
    const problems = await page.evaluate(findProblems);
    await page.close();
    assert.deepEqual(errors, []);
    return problems;
  }

  const clean = (p: PageProblems, plots: number): void => {
    const { overflow, clipped, unexplained, accuracyAxes } = p;
    assert.deepEqual(
      { overflow, clipped, unexplained, accuracyAxes },
      { overflow: [], clipped: [], unexplained: [], accuracyAxes: [] },
    );
    assert.ok(p.plots >= plots, `${p.plots} plots drawn, expected ${plots} or more`);
  };

  it('a run of three seeds', async () => {
    const dir = join(root, 'seeded');
    jsonlRun(dir, seeded(records));
    clean(await check('seeded-run', [dir]), 12);
  });

  it('a successive-halving run: every curve drawn up to where halving stopped it', async () => {
    const dir = join(root, 'halving');
    halvingRun(dir);
    clean(await check('halving-run', [dir]), 12);
  });

  it('a study of the linear family, placed by the centre of its features', async () => {
    const dir = join(root, 'linear');
    linearRun(dir);
    clean(await check('linear-run', [dir]), 12);
  });

  it('two runs side by side, sharing their axes', async () => {
    const a = join(root, 'a');
    const b = join(root, 'b');
    jsonlRun(a, seeded(records));
    csvRun(b, records.filter((r) => r.id !== 0).slice(0, 8));
    clean(await check('two-runs', [a, b]), 24);
  });
});
