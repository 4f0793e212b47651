/// <reference lib="dom" />
// This file drives a real browser: page.evaluate callbacks run there, with its DOM.
import assert from 'node:assert/strict';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import type { Architecture } from '../src/family/skew-normal.js';
import { launchChromium, openPage, PAGE_TIMEOUT_MS } from '../src/report/browser.js';
import { serveReport } from '../src/report/server.js';
import type { ResultRecord } from '../src/run/results.js';
import { runCli, startCli } from './helpers/cli.js';
import { repoRoot } from './helpers/paths.js';
import { csvRun, jsonlRun, members, records, seeded } from './helpers/report-runs.js';

/** Screenshots for people to look at: CI keeps this folder as an artifact. */
const ARTIFACTS = join(repoRoot, 'test-artifacts', 'report');
const tmp = (): string => mkdtempSync(join(tmpdir(), 'featshift-report-'));

describe('featshift report in a real browser (Debian chromium)', () => {
  let browser: Browser;
  let page: Page;
  const errors: string[] = [];
  const requests: string[] = [];
  const root = tmp();
  const runA = join(root, '2026-11-29_10-00-00;FashionMNIST;VGG16');
  const runB = join(root, '2018-05-01_12-00-00;CIFAR10;VGG');
  const html = join(root, 'report.html');

  before(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    jsonlRun(runA, seeded(records));
    csvRun(runB, records.filter((r) => r.id !== 0).slice(0, 8));
    const r = runCli(['report', runA, runB, '-o', html]);
    assert.equal(r.status, 0, r.stderr);
    browser = await launchChromium();
    page = await openPage(browser, { viewport: { width: 1600, height: 2600 } });
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(m.text());
    });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('request', (req) => requests.push(req.url()));
    await page.goto(pathToFileURL(html).href);
    await page.waitForFunction(() => document.querySelector('#curves-rung-1 .main-svg') !== null);
    await page.screenshot({ path: join(ARTIFACTS, 'report-two-runs.png'), fullPage: true });
  });

  after(async () => {
    await browser.close();
  });

  it('loads from disk with no console error and no network request', () => {
    assert.deepEqual(errors, []);
    assert.deepEqual(requests, [pathToFileURL(html).href]);
  });

  it('has one point per architecture in the answer and one line in the parallel coordinates, for both runs side by side', async () => {
    const counts = await page.evaluate(() =>
      [0, 1].flatMap((r) => {
        const plot = (
          id: string,
        ): { data: { type: string; x?: unknown[]; dimensions?: { values: unknown[] }[] }[] } =>
          document.getElementById(`${id}-${r}`) as unknown as {
            data: { type: string; x?: unknown[]; dimensions?: { values: unknown[] }[] }[];
          };
        const answer = plot('answer').data[0];
        const lines = plot('parallel').data[0];
        return [
          `${answer?.type}:${answer?.x?.length}`,
          `${lines?.type}:${lines?.dimensions?.[0]?.values.length}`,
        ];
      }),
    );
    assert.deepEqual(counts, [
      `scatter:${members.length}`,
      `parcoords:${members.length}`,
      'scatter:8',
      'parcoords:8',
    ]);
    const columns = await page.evaluate(
      () =>
        getComputedStyle(document.getElementById('runs') as HTMLElement).gridTemplateColumns.split(
          ' ',
        ).length,
    );
    assert.equal(columns, 2);
  });

  it('shows an architecture’s widths when its point is hovered, and its profile when clicked', async () => {
    const target = members[3] as Architecture;
    await page.locator('#acc-params-0').scrollIntoViewIfNeeded();
    const point = await page.evaluate((id) => {
      const gd = document.getElementById('acc-params-0') as unknown as {
        data: { customdata: number[]; x: number[]; y: number[] }[];
        _fullLayout: {
          xaxis: { l2p(v: number): number; d2l(v: number): number };
          yaxis: { l2p(v: number): number };
          _size: { l: number; t: number };
        };
        getBoundingClientRect(): DOMRect;
      };
      const trace = gd.data[0];
      const i = trace?.customdata.indexOf(id) ?? -1;
      const L = gd._fullLayout;
      const box = gd.getBoundingClientRect();
      return {
        x: box.left + L._size.l + L.xaxis.l2p(L.xaxis.d2l(trace?.x[i] ?? 0)),
        y: box.top + L._size.t + L.yaxis.l2p(trace?.y[i] ?? 0),
      };
    }, target.id);
    await page.mouse.move(point.x, point.y);
    const hover = page.locator('#acc-params-0 .hoverlayer .hovertext');
    await hover.waitFor();
    const text = await hover.textContent();
    assert.match(text ?? '', new RegExp(`id ${target.id}`));
    assert.match(text ?? '', new RegExp(`widths ${target.widths.join(' ')}`));
    await page.screenshot({ path: join(ARTIFACTS, 'report-hover.png') });
    await page.mouse.click(point.x, point.y);
    await page.waitForFunction(
      (id) => document.getElementById('detail-text-0')?.dataset.id === String(id),
      target.id,
    );
    const detail = await page.locator('#detail-text-0').textContent();
    assert.match(detail ?? '', new RegExp(`widths ${target.widths.join(' ')}`));
    const bars = await page.evaluate(() =>
      (document.getElementById('widths-0') as unknown as { data: { y: number[] }[] }).data.map(
        (t) => t.y,
      ),
    );
    assert.deepEqual(bars, [target.widths, records[0]?.widths]);
    await page.screenshot({ path: join(ARTIFACTS, 'report-selected.png'), fullPage: true });
  });

  it('keeps two runs side by side within a 1280 px window, no number wrapped in its cell', async () => {
    await page.setViewportSize({ width: 1280, height: 2000 });
    try {
      // Plotly redraws its plots a moment after a resize: wait for the page to settle.
      await page
        .waitForFunction(() => document.documentElement.scrollWidth <= window.innerWidth, null, {
          timeout: 5000,
        })
        .catch(() => undefined);
      const widths = await page.evaluate(() => ({
        page: document.documentElement.scrollWidth,
        window: window.innerWidth,
      }));
      assert.ok(
        widths.page <= widths.window,
        `the page is ${widths.page} px wide in ${widths.window}`,
      );
      const wrapped = await page.$$eval(
        '#table-0 td',
        (cells) =>
          cells.filter(
            (c) =>
              c.getClientRects().length > 1 ||
              (c as HTMLElement).offsetHeight > 2.2 * parseFloat(getComputedStyle(c).fontSize),
          ).length,
      );
      assert.equal(wrapped, 0);
    } finally {
      await page.setViewportSize({ width: 1600, height: 2600 });
    }
  });

  it('names the grid its ids number', async () => {
    assert.match(
      (await page.textContent('#grid-0')) ?? '',
      /^Ids number the skew-normal family of VGG-16, x0\.125 of VGG-16's features \(xi 0:15:1, /,
    );
  });

  it('sorts and filters the table, and highlights the top k', async () => {
    const ids = (): Promise<number[]> =>
      page.$$eval('#table-0 tbody tr', (rows) =>
        rows.map((r) => Number(r.getAttribute('data-id'))),
      );
    const byBest = [...records]
      .sort((a, b) => b.bestVal - a.bestVal || a.id - b.id)
      .map((r) => r.id);
    assert.deepEqual(await ids(), byBest);
    await page.click('#table-0 th[data-key="id"]');
    assert.deepEqual(
      await ids(),
      [...records.map((r) => r.id)].sort((a, b) => a - b),
    );
    await page.click('#table-0 th[data-key="id"]');
    assert.deepEqual(
      await ids(),
      [...records.map((r) => r.id)].sort((a, b) => b - a),
    );
    await page.fill('#filter-0', 'xi<4');
    const filtered = await ids();
    assert.deepEqual(
      filtered.sort((a, b) => a - b),
      records
        .filter((r) => r.xi !== null && r.xi < 4)
        .map((r) => r.id)
        .sort((a, b) => a - b),
    );
    const shown = async (query: string): Promise<{ ids: number[]; problem: string }> => {
      await page.fill('#filter-0', query);
      return {
        ids: (await ids()).sort((a, b) => a - b),
        problem: (await page.textContent('#filter-problem-0')) ?? '',
      };
    };
    const expected = (keep: (r: ResultRecord) => boolean): number[] =>
      records
        .filter(keep)
        .map((r) => r.id)
        .sort((a, b) => a - b);
    // Keys in any case, numbers with k and M suffixes.
    assert.deepEqual(await shown('BESTVAL>70'), {
      ids: expected((r) => r.bestVal > 70),
      problem: '',
    });
    const params = await shown('params<300k macs>=1.2M');
    assert.deepEqual(
      params.ids,
      expected((r) => r.params < 300e3 && r.macs >= 1.2e6),
    );
    assert.ok(params.ids.length > 0 && params.ids.length < records.length, String(params.ids));
    // What it cannot read or does not know is said, and filters nothing.
    const unknown = await shown('foo>3');
    assert.equal(unknown.ids.length, records.length);
    assert.match(unknown.problem, /no key 'foo': use one of id, xi, omega/);
    const unread = await shown('xi<');
    assert.equal(unread.ids.length, records.length);
    assert.match(unread.problem, /cannot read 'xi<'/);
    await page.fill('#filter-0', '');
    assert.equal(await page.textContent('#filter-problem-0'), '');
    await page.fill('#topk-0', '3');
    const top = await page.$$eval('#table-0 tbody tr.top', (rows) =>
      rows.map((r) => Number(r.getAttribute('data-id'))),
    );
    assert.deepEqual(
      top.sort((a, b) => a - b),
      byBest.slice(0, 3).sort((a, b) => a - b),
    );
  });

  it('draws intervals over seeds: error bars, learning-curve bands, the EDF of each location group, the finding', async () => {
    const got = await page.evaluate(() => {
      type Trace = {
        name?: string;
        x: number[];
        y: number[];
        fill?: string;
        error_y?: { visible: boolean; array?: number[] };
      };
      const traces = (id: string): Trace[] =>
        (document.getElementById(id) as unknown as { data: Trace[] }).data;
      return {
        bars: traces('acc-params-0')[0]?.error_y,
        singleRun: traces('acc-params-1')[0]?.error_y?.visible,
        bands: traces('curves-0').filter((t) => t.fill === 'tonexty').length,
        edf: traces('edf-0').map((t) => [t.name, t.y[t.y.length - 1]]),
        edfCost: traces('edf-cost-0').map((t) => t.y[t.y.length - 1] ?? 0),
        curvesByRung: traces('curves-rung-0').map((t) => t.name),
        finding: document.getElementById('finding-0')?.textContent ?? '',
        meta: document.querySelector('#run-0 .meta')?.textContent ?? '',
      };
    });
    assert.equal(got.bars?.visible, true);
    // Seeds 0.5 either side of the mean: t(0.975, 2) * 0.5 = 1.242 points.
    assert.ok(
      got.bars.array?.every((v) => Math.abs(v - 1.242) < 0.01),
      JSON.stringify(got.bars),
    );
    assert.equal(got.singleRun, false, 'no error bars for single runs');
    assert.ok(got.edfCost.length >= 2, 'a reweighted EDF per location group');
    for (const end of got.edfCost) assert.ok(Math.abs(end - 1) < 1e-9, String(end));
    assert.equal(got.bands, 2, 'a band around the training and the validation curve');
    // Every group's EDF climbs to 1; this family's sample has early and late members, and VGG.
    const names = got.edf.map(([name]) => String(name).split(' ')[0]);
    for (const name of ['early', 'late', 'VGG']) assert.ok(names.includes(name), names.join(' '));
    assert.ok(got.edf.every(([, last]) => last === 1));
    assert.equal(got.curvesByRung.length, records.length, 'one validation curve per architecture');
    assert.deepEqual([...new Set(got.curvesByRung)].sort(), ['architecture', 'baseline VGG']);
    assert.match(got.finding, /^Question: do features belong early, in the middle, late/);
    assert.match(got.finding, /early − late: /);
    assert.match(got.meta, /42 of 42 runs of 14 architectures, seeds 0, 1, 2/);
    await page.locator('#edf-0').screenshot({ path: join(ARTIFACTS, 'report-edf.png') });
  });

  it('exports the main figures as PNG files', () => {
    const dir = join(root, 'figures');
    const r = runCli(['report', runB, '-o', join(root, 'b.html'), '--png', dir]);
    assert.equal(r.status, 0, r.stderr);
    const files = readdirSync(dir).sort();
    assert.ok(
      files.includes('1-answer.png') &&
        files.includes('1-parallel.png') &&
        files.includes('1-acc-params.png') &&
        files.includes('1-widths.png'),
      files.join(' '),
    );
  });
});

describe('report inputs', () => {
  it('skips malformed lines and rows with a warning naming file and line', () => {
    const dir = tmp();
    jsonlRun(dir, records.slice(0, 3));
    appendFileSync(join(dir, 'results.jsonl'), '{"id": 5, "widths": [1, 2\n');
    const r = runCli(['report', dir, '-o', join(dir, 'r.html')]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /warning: .*results\.jsonl:4: skipped a malformed line/);
    const csv = tmp();
    csvRun(csv, records.slice(1, 4));
    writeFileSync(join(csv, 'model_777.csv'), ',Filters,Parameters\n0,not a list,1.0\n');
    const s = runCli(['report', csv, '-o', join(csv, 'r.html')]);
    assert.equal(s.status, 0, s.stderr);
    assert.match(s.stderr, /model_777\.csv:2: skipped a malformed row/);
  });

  it('refuses a folder with no results, with one line and exit code 2, saying what it found', () => {
    const r = runCli(['report', tmp()]);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /holds no results: it has no results\.jsonl nor model_NNN\.csv files/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    const csv = tmp();
    writeFileSync(join(csv, 'model_001.csv'), ',Filters,Parameters\n0,not a list,1.0\n');
    const s = runCli(['report', csv]);
    assert.equal(s.status, 2);
    assert.match(
      s.stderr,
      /holds no results: its model_NNN\.csv files have no valid row \(.*model_001\.csv:2: skipped a malformed row/,
    );
    assert.equal(s.stderr.trim().split('\n').length, 1);
  });
});

describe('featshift view', () => {
  it('serves only the report and its data on 127.0.0.1, and survives a folder that changes or vanishes', async () => {
    const dir = tmp();
    jsonlRun(dir, records.slice(0, 3), records.slice(0, 5));
    const view = await serveReport([dir], '127.0.0.1', 0);
    try {
      assert.match(view.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      const get = async (path: string): Promise<{ status: number; body: string }> => {
        const res = await fetch(new URL(path, view.url));
        return { status: res.status, body: await res.text() };
      };
      const index = await get('/');
      assert.equal(index.status, 200);
      assert.match(index.body, /featshift report/);
      for (const bad of [
        '/../../etc/passwd',
        '/%2e%2e/%2e%2e/etc/passwd',
        '/results.jsonl',
        '/config.json',
        '/report.html',
      ]) {
        assert.equal((await get(bad)).status, 404, bad);
      }
      const data = JSON.parse((await get('/data.json')).body) as {
        runs: { architectures: unknown[] }[];
        live: boolean;
      };
      assert.equal(data.runs[0]?.architectures.length, 3);
      assert.equal(data.live, true);
      // A running sweep finishes another architecture.
      appendFileSync(join(dir, 'results.jsonl'), `${JSON.stringify(records[3])}\n`);
      const grown = JSON.parse((await get('/data.json')).body) as {
        runs: { architectures: unknown[] }[];
      };
      assert.equal(grown.runs[0]?.architectures.length, 4);
      // The folder disappears: the last results stay, with a warning.
      rmSync(dir, { recursive: true });
      const gone = JSON.parse((await get('/data.json')).body) as {
        runs: { architectures: unknown[]; warnings: string[] }[];
      };
      const [first] = gone.runs;
      assert.ok(first);
      assert.equal(first.architectures.length, 4);
      assert.ok(first.warnings.some((w) => /showing the last results read/.test(w)));
      assert.equal((await get('/')).status, 200);
    } finally {
      await view.close();
    }
  });

  it('refreshes an open page while the sweep goes on', async () => {
    const dir = tmp();
    jsonlRun(dir, records.slice(0, 3), records.slice(0, 5));
    const view = await serveReport([dir], '127.0.0.1', 0);
    const browser = await launchChromium();
    try {
      const page = await openPage(browser);
      await page.goto(view.url);
      await page.waitForFunction(() => document.querySelectorAll('#table-0 tbody tr').length === 3);
      appendFileSync(
        join(dir, 'results.jsonl'),
        `${JSON.stringify(records[3])}\n${JSON.stringify(records[4])}\n`,
      );
      await page.waitForFunction(() => document.querySelectorAll('#table-0 tbody tr').length === 5);
      assert.equal(existsSync(dir), true);
    } finally {
      await browser.close();
      await view.close();
    }
  });
});

describe('featshift view of a sweep from its first second', () => {
  it('opens the folder before its first result and shows the run in training as it goes', async () => {
    const { cheapestIds, tinySweep } = await import('./helpers/tiny-study.js');
    const out = join(tmp(), 'run');
    // Long enough that the first run is still training while the page is looked at.
    const sweep = await startCli([...tinySweep(cheapestIds(2), 20, 60000), '--out', out], () =>
      existsSync(join(out, 'config.json')),
    );
    let view: Awaited<ReturnType<typeof startCli>> | undefined;
    const browser = await launchChromium();
    try {
      for (let waited = 0; !existsSync(join(out, 'config.json')); waited += 50) {
        assert.ok(waited < PAGE_TIMEOUT_MS, 'the sweep never wrote its config.json');
        await new Promise((r) => setTimeout(r, 50));
      }
      let url = '';
      view = await startCli(['view', out, '--port', '0'], (stdout) => {
        url = /http:\/\/\S+\//.exec(stdout)?.[0] ?? '';
        return url !== '';
      });
      assert.notEqual(url, '', 'featshift view refused a sweep that has just started');
      const page = await openPage(browser);
      await page.goto(url);
      await page.waitForFunction(() => document.querySelector('#training-0 li') !== null);
      const first = await page.locator('#training-0 li').first().textContent();
      assert.equal(await page.locator('#table-0 tbody tr').count(), 0, 'no result yet');
      assert.match(first ?? '', /^id \d+ \(xi .*\), seed 0 .*epoch \d+ of 20/);
      await page.waitForFunction(
        (before) => document.querySelector('#training-0 li')?.textContent !== before,
        first,
      );
      const later = await page.locator('#training-0 li').first().textContent();
      assert.notEqual(later, first);
      await page.screenshot({ path: join(ARTIFACTS, 'view-in-training.png'), fullPage: true });
    } finally {
      await browser.close();
      view?.child.kill('SIGINT');
      sweep.child.kill('SIGINT');
      await sweep.exited;
      if (view) await view.exited;
    }
    assert.equal(existsSync(join(out, 'live.json')), false, 'live.json goes when the sweep stops');
  });
});

describe('strings from a run folder reach the page as text, never as markup', () => {
  it('shows a run folder and dataset named with <img onerror> as text, in the file and the viewer', async () => {
    const root = tmp();
    const dir = join(root, 'a;<img src=x onerror="window.pwned=1">;VGG16');
    jsonlRun(dir, records.slice(0, 4));
    const configPath = join(dir, 'config.json');
    const config = JSON.parse(readFileSync(configPath, 'utf8')) as { study: { dataset: string } };
    config.study.dataset = '<img src=y onerror="window.pwned=2">';
    writeFileSync(configPath, JSON.stringify(config));
    writeFileSync(
      join(dir, 'results.jsonl'),
      `${readFileSync(join(dir, 'results.jsonl'), 'utf8')}{oops\n`,
    );
    const html = join(root, 'report.html');
    const r = runCli(['report', dir, '-o', html]);
    assert.equal(r.status, 0, r.stderr);
    const view = await serveReport([dir], '127.0.0.1', 0);
    const browser = await launchChromium();
    try {
      for (const url of [pathToFileURL(html).href, view.url]) {
        const page = await openPage(browser);
        await page.goto(url);
        await page.waitForFunction(() => document.querySelector('#run-0 h2') !== null);
        const shown = await page.evaluate(() => ({
          pwned: (window as unknown as { pwned?: number }).pwned,
          images: document.querySelectorAll('#runs img').length,
          name: document.querySelector('#run-0 h2')?.textContent ?? '',
          meta: document.querySelector('#run-0 .meta')?.textContent ?? '',
          warning: document.querySelector('#run-0 .warnings li')?.textContent ?? '',
        }));
        assert.equal(shown.pwned, undefined, url);
        assert.equal(shown.images, 0, url);
        assert.match(shown.name, /<img src=x onerror="window\.pwned=1">/);
        assert.match(shown.meta, /^<img src=y onerror="window\.pwned=2">, VGG-16/);
        assert.match(shown.warning, /results\.jsonl:5/);
        await page.close();
      }
    } finally {
      await browser.close();
      await view.close();
    }
  });

  it('answers only the Host names it is reached under (no DNS rebinding)', async () => {
    const dir = tmp();
    jsonlRun(dir, records.slice(0, 2));
    const view = await serveReport([dir], '127.0.0.1', 0);
    try {
      const { port } = new URL(view.url);
      const ask = (host: string): Promise<number> =>
        new Promise((resolve, reject) => {
          const req = request(
            { host: '127.0.0.1', port: Number(port), path: '/data.json', headers: { host } },
            (res) => {
              res.resume();
              resolve(res.statusCode ?? 0);
            },
          );
          req.on('error', reject);
          req.end();
        });
      assert.equal(await ask(`127.0.0.1:${port}`), 200);
      assert.equal(await ask(`localhost:${port}`), 200);
      assert.equal(await ask(`attacker.example:${port}`), 421);
      assert.equal(await ask('127.0.0.1'), 421);
    } finally {
      await view.close();
    }
  });
});
