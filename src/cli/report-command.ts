import { Command } from 'commander';
import { resolve } from 'node:path';
import { reportData, reportHtml } from '../report/html.js';
import { loadStudy, type LoadedStudy, type LoadOptions } from '../run/load.js';
import { serveReport } from '../report/server.js';
import { writeFileAtomic } from '../util/atomic-file.js';
import { printable } from '../util/printable.js';
import { checkOutputPath } from './output-path.js';
import * as parse from './parse.js';

function loadRuns(dirs: string[], options: LoadOptions = {}): LoadedStudy[] {
  const runs = dirs.map((d) => loadStudy(d, options));
  for (const run of runs)
    for (const w of run.warnings) process.stderr.write(`featshift: warning: ${printable(w)}\n`);
  return runs;
}

export function reportCommand(): Command {
  return new Command('report')
    .description(
      "write one self-contained HTML report of run folders (featshift results.jsonl or the original code's CSVs)",
    )
    .argument('<RUN_DIR...>', 'run folders, shown side by side')
    .option('-o, --output <FILE>', 'the HTML file (default report.html in the first run folder)')
    .option('--png <DIR>', 'also export the main figures as PNG files into DIR')
    .option('--svg <DIR>', 'also export the main figures as SVG files into DIR')
    .action(async (dirs: string[], o: { output?: string; png?: string; svg?: string }) => {
      const output = o.output ?? `${dirs[0] ?? '.'}/report.html`;
      checkOutputPath(output, dirs);
      const runs = loadRuns(dirs);
      await writeFileAtomic(output, reportHtml(reportData(runs)));
      process.stdout.write(`${output}\n`);
      for (const [format, dir] of [
        ['png', o.png],
        ['svg', o.svg],
      ] as const) {
        if (dir === undefined) continue;
        // Playwright loads only when figures are exported.
        const { exportFigures } = await import('../report/export.js');
        const files = await exportFigures(resolve(output), dir, format);
        process.stdout.write(`${files.length} ${format.toUpperCase()} figures in ${dir}\n`);
      }
    });
}

export function viewCommand(): Command {
  return new Command('view')
    .description('serve the report of run folders on 127.0.0.1, refreshed while a sweep is running')
    .argument('<RUN_DIR...>', 'run folders, shown side by side')
    .option('--port <N>', 'port (default: 8787; 0 for any free one)', parse.integer, 8787)
    .option(
      '--host <ADDRESS>',
      'address to bind (default 127.0.0.1: this machine only)',
      '127.0.0.1',
    )
    .action(async (dirs: string[], o: { port: number; host: string }) => {
      // Refuse bad folders up front (a sweep that has only just started is no bad folder);
      // later changes while serving are tolerated.
      loadRuns(dirs, { inProgress: true });
      const view = await serveReport(dirs, o.host, o.port);
      process.stdout.write(`featshift view: ${view.url} (Ctrl-C to stop)\n`);
      await new Promise<void>((done) => {
        process.once('SIGINT', () => {
          void view.close().then(done);
        });
        process.once('SIGTERM', () => {
          void view.close().then(done);
        });
      });
    });
}
