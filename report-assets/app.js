/* featshift report: the page's script, inlined into the HTML file with Plotly and the data. */
(function () {
  'use strict';

  var data = JSON.parse(document.getElementById('featshift-data').textContent);
  var state = { selected: [], sort: [], filter: [], topK: [] };

  function fmt(n) {
    if (n >= 1e9) return (n / 1e9).toFixed(2) + 'G';
    if (n >= 1e6) return (n / 1e6).toFixed(2) + 'M';
    if (n >= 1e3) return (n / 1e3).toFixed(1) + 'k';
    return String(n);
  }

  function pct(n) {
    return typeof n === 'number' && isFinite(n) ? n.toFixed(2) : '-';
  }

  function members(run) {
    return run.architectures.filter(function (a) {
      return a.xi !== null && a.omega !== null && a.alpha !== null;
    });
  }

  function ranked(run) {
    return run.architectures.slice().sort(function (a, b) {
      return b.bestVal - a.bestVal || a.id - b.id;
    });
  }

  function topIds(run, k) {
    return ranked(run)
      .slice(0, k)
      .map(function (a) {
        return a.id;
      });
  }

  function hoverText(a) {
    return (
      'id ' +
      a.id +
      (a.id === 0 ? ' (baseline VGG)' : '') +
      '<br>widths ' +
      a.widths.join(' ') +
      '<br>best val ' +
      pct(a.bestVal) +
      ' % (train ' +
      pct(a.bestValTrain) +
      ' %)' +
      '<br>last val ' +
      pct(a.lastVal) +
      ' %, last train ' +
      pct(a.lastTrain) +
      ' %' +
      '<br>params ' +
      fmt(a.params) +
      ', MACs ' +
      fmt(a.macs) +
      (a.abandoned ? '<br>abandoned' : '') +
      (a.diverged ? '<br>diverged' : '')
    );
  }

  var config = { displaylogo: false, responsive: true };
  var plotIds = ['scatter-val', 'scatter-train', 'acc-params', 'acc-macs', 'gap-xi', 'acc-xi'];

  function scatter3d(run, r, key, title) {
    var list = members(run);
    var top = topIds(run, state.topK[r]);
    var gd = document.getElementById(key + '-' + r);
    Plotly.react(
      gd,
      [
        {
          type: 'scatter3d',
          mode: 'markers',
          name: title,
          x: list.map(function (a) {
            return a.xi;
          }),
          y: list.map(function (a) {
            return a.omega;
          }),
          z: list.map(function (a) {
            return a.alpha;
          }),
          customdata: list.map(function (a) {
            return a.id;
          }),
          text: list.map(hoverText),
          hoverinfo: 'text',
          marker: {
            size: list.map(function (a) {
              return top.indexOf(a.id) >= 0 ? 9 : 4;
            }),
            color: list.map(function (a) {
              return key === 'scatter-val' ? a.bestVal : a.bestValTrain;
            }),
            colorscale: 'Viridis',
            colorbar: { title: { text: key === 'scatter-val' ? 'best val %' : 'train %' } },
            symbol: list.map(function (a) {
              return top.indexOf(a.id) >= 0 ? 'diamond' : 'circle';
            }),
          },
        },
      ],
      {
        title: { text: title },
        margin: { l: 0, r: 0, t: 40, b: 0 },
        scene: {
          xaxis: { title: { text: 'xi (location)' } },
          yaxis: { title: { text: 'omega (scale)' } },
          zaxis: { title: { text: 'alpha (skew)' } },
        },
      },
      config,
    );
    bindClick(gd, r);
  }

  function scatter2d(run, r, key, title, xOf, yOf, xTitle, yTitle, logX) {
    var top = topIds(run, state.topK[r]);
    var list = run.architectures.filter(function (a) {
      return a.id !== 0;
    });
    var base = run.architectures.filter(function (a) {
      return a.id === 0;
    });
    var traces = [
      {
        type: 'scatter',
        mode: 'markers',
        name: 'family',
        x: list.map(xOf),
        y: list.map(yOf),
        customdata: list.map(function (a) {
          return a.id;
        }),
        text: list.map(hoverText),
        hoverinfo: 'text',
        marker: {
          size: list.map(function (a) {
            return top.indexOf(a.id) >= 0 ? 12 : 7;
          }),
          color: list.map(function (a) {
            return a.xi;
          }),
          colorscale: 'Viridis',
          line: {
            width: list.map(function (a) {
              return top.indexOf(a.id) >= 0 ? 2 : 0;
            }),
            color: '#d62728',
          },
        },
      },
    ];
    if (base.length && xOf(base[0]) !== null) {
      traces.push({
        type: 'scatter',
        mode: 'markers',
        name: 'baseline VGG',
        x: base.map(xOf),
        y: base.map(yOf),
        customdata: [0],
        text: base.map(hoverText),
        hoverinfo: 'text',
        marker: { size: 14, symbol: 'star', color: '#d62728' },
      });
    }
    var gd = document.getElementById(key + '-' + r);
    Plotly.react(
      gd,
      traces,
      {
        title: { text: title },
        hovermode: 'closest',
        margin: { l: 60, r: 10, t: 40, b: 50 },
        xaxis: { title: { text: xTitle }, type: logX ? 'log' : 'linear' },
        yaxis: { title: { text: yTitle } },
        showlegend: false,
      },
      config,
    );
    bindClick(gd, r);
  }

  function bindClick(gd, r) {
    if (gd.__featshiftBound) return;
    gd.__featshiftBound = true;
    gd.on('plotly_click', function (ev) {
      var p = ev && ev.points && ev.points[0];
      if (p && p.customdata !== undefined) select(r, Number(p.customdata));
    });
  }

  function detail(run, r) {
    var id = state.selected[r];
    var a =
      run.architectures.find(function (x) {
        return x.id === id;
      }) || ranked(run)[0];
    var layers = a.widths.map(function (_, i) {
      return i + 1;
    });
    Plotly.react(
      document.getElementById('widths-' + r),
      [
        { type: 'bar', name: 'id ' + a.id, x: layers, y: a.widths, marker: { color: '#1f77b4' } },
        {
          type: 'bar',
          name: 'baseline VGG',
          x: run.baselineWidths.map(function (_, i) {
            return i + 1;
          }),
          y: run.baselineWidths,
          marker: { color: '#bbbbbb' },
        },
      ],
      {
        title: { text: 'features per layer: id ' + a.id + ' and the baseline' },
        barmode: 'group',
        margin: { l: 50, r: 10, t: 40, b: 40 },
        xaxis: { title: { text: 'layer' }, dtick: 1 },
        yaxis: { title: { text: 'features' } },
      },
      config,
    );
    var epochs = a.valAcc.map(function (_, i) {
      return i + 1;
    });
    Plotly.react(
      document.getElementById('curves-' + r),
      [
        { type: 'scatter', mode: 'lines+markers', name: 'train', x: epochs, y: a.trainAcc },
        { type: 'scatter', mode: 'lines+markers', name: 'validation', x: epochs, y: a.valAcc },
      ],
      {
        title: { text: 'learning curves: id ' + a.id },
        margin: { l: 50, r: 10, t: 40, b: 40 },
        xaxis: { title: { text: 'epoch' } },
        yaxis: { title: { text: 'accuracy %' } },
      },
      config,
    );
    var text = document.getElementById('detail-text-' + r);
    text.dataset.id = String(a.id);
    text.textContent =
      'id ' +
      a.id +
      (a.id === 0
        ? ' (baseline VGG)'
        : '  xi ' + a.xi + '  omega ' + a.omega + '  alpha ' + a.alpha) +
      '\nwidths ' +
      a.widths.join(' ') +
      '\nbest val ' +
      pct(a.bestVal) +
      ' % at epoch ' +
      (a.bestEpoch + 1) +
      ' (train ' +
      pct(a.bestValTrain) +
      ' %)' +
      '\nparams ' +
      fmt(a.params) +
      '  MACs ' +
      fmt(a.macs) +
      (a.abandoned ? '\nabandoned: training accuracy below twice chance' : '') +
      (a.diverged ? '\ndiverged: NaN loss' : '');
  }

  var columns = [
    ['id', 'id'],
    ['xi', 'xi'],
    ['omega', 'omega'],
    ['alpha', 'alpha'],
    ['bestVal', 'best val %'],
    ['bestValTrain', 'train %'],
    ['gap', 'gap'],
    ['params', 'params'],
    ['macs', 'MACs'],
    ['epochs', 'epochs'],
    ['status', 'status'],
  ];

  function rowValue(a, key) {
    if (key === 'gap') return a.bestValTrain - a.bestVal;
    if (key === 'epochs') return a.valAcc.length;
    if (key === 'status')
      return a.diverged ? 'diverged' : a.abandoned ? 'abandoned' : a.id === 0 ? 'baseline' : '';
    return a[key];
  }

  // Every string from a run folder (its name, its dataset, a warning) reaches the page as text,
  // never as markup: elements are built here and filled with textContent.
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      node.setAttribute(k, String(attrs[k]));
    });
    (children || []).forEach(function (c) {
      node.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return node;
  }

  function cellText(a, key) {
    var v = rowValue(a, key);
    if (v === null || v === undefined) return '-';
    if (key === 'bestVal' || key === 'bestValTrain' || key === 'gap') return pct(v);
    if (key === 'params' || key === 'macs') return fmt(v);
    return String(v);
  }

  // A filter is words: 'key<number', 'key>number', 'key=number', or text any cell contains.
  function matches(a, query) {
    var words = query.trim().split(/\s+/).filter(Boolean);
    return words.every(function (w) {
      var m = /^(\w+)(<=|>=|<|>|=)(-?[\d.eE+-]+)$/.exec(w);
      if (m) {
        var v = rowValue(a, m[1]);
        var n = Number(m[3]);
        if (typeof v !== 'number') return false;
        return m[2] === '<'
          ? v < n
          : m[2] === '>'
            ? v > n
            : m[2] === '<='
              ? v <= n
              : m[2] === '>='
                ? v >= n
                : v === n;
      }
      return columns.some(function (c) {
        return cellText(a, c[0]).toLowerCase().indexOf(w.toLowerCase()) >= 0;
      });
    });
  }

  function table(run, r) {
    var sort = state.sort[r];
    var rows = run.architectures.filter(function (a) {
      return matches(a, state.filter[r]);
    });
    rows.sort(function (a, b) {
      var x = rowValue(a, sort.key);
      var y = rowValue(b, sort.key);
      var c =
        typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      if (x === null) c = -1;
      if (y === null) c = 1;
      return (sort.desc ? -c : c) || a.id - b.id;
    });
    var top = topIds(run, state.topK[r]);
    var t = document.getElementById('table-' + r);
    var head = el('thead', {}, [
      el(
        'tr',
        {},
        columns.map(function (c) {
          var mark = sort.key === c[0] ? (sort.desc ? ' ▼' : ' ▲') : '';
          return el('th', { 'data-key': c[0] }, [c[1] + mark]);
        }),
      ),
    ]);
    var body = el(
      'tbody',
      {},
      rows.map(function (a) {
        var cls =
          (top.indexOf(a.id) >= 0 ? 'top' : '') + (a.id === state.selected[r] ? ' selected' : '');
        return el(
          'tr',
          { 'data-id': a.id, class: cls },
          columns.map(function (c) {
            return el('td', {}, [cellText(a, c[0])]);
          }),
        );
      }),
    );
    t.replaceChildren(head, body);
    document.getElementById('count-' + r).textContent =
      rows.length + ' of ' + run.architectures.length + ' shown';
  }

  function renderRun(r) {
    var run = data.runs[r];
    scatter3d(run, r, 'scatter-val', 'best validation accuracy');
    scatter3d(run, r, 'scatter-train', 'training accuracy (at the best epoch)');
    scatter2d(
      run,
      r,
      'acc-params',
      'accuracy against parameters',
      function (a) {
        return a.params;
      },
      function (a) {
        return a.bestVal;
      },
      'parameters',
      'best val %',
      true,
    );
    scatter2d(
      run,
      r,
      'acc-macs',
      'accuracy against MACs per image',
      function (a) {
        return a.macs;
      },
      function (a) {
        return a.bestVal;
      },
      'MACs',
      'best val %',
      true,
    );
    scatter2d(
      run,
      r,
      'gap-xi',
      'generalisation gap (train - val) against xi',
      function (a) {
        return a.xi;
      },
      function (a) {
        return a.bestValTrain - a.bestVal;
      },
      'xi (where the features sit)',
      'gap, points',
      false,
    );
    scatter2d(
      run,
      r,
      'acc-xi',
      'accuracy against xi',
      function (a) {
        return a.xi;
      },
      function (a) {
        return a.bestVal;
      },
      'xi (where the features sit)',
      'best val %',
      false,
    );
    detail(run, r);
    table(run, r);
  }

  function select(r, id) {
    state.selected[r] = id;
    var run = data.runs[r];
    detail(run, r);
    table(run, r);
  }

  function layout() {
    var root = document.getElementById('runs');
    root.style.gridTemplateColumns = 'repeat(' + data.runs.length + ', minmax(0, 1fr))';
    root.replaceChildren.apply(
      root,
      data.runs.map(function (run, r) {
        var plots = plotIds.map(function (p) {
          return el('div', { class: 'plot', id: p + '-' + r });
        });
        var children = [
          el('h2', {}, [String(run.name)]),
          el('p', { class: 'meta' }, [
            String(run.dataset) +
              ', VGG-' +
              run.depth +
              ', ' +
              run.architectures.length +
              (run.planned ? ' of ' + run.planned : '') +
              ' architectures (' +
              run.source +
              ')',
          ]),
        ];
        if (run.warnings.length) {
          children.push(
            el('details', { class: 'warnings' }, [
              el('summary', {}, [run.warnings.length + ' warning(s)']),
              el(
                'ul',
                {},
                run.warnings.map(function (w) {
                  return el('li', {}, [String(w)]);
                }),
              ),
            ]),
          );
        }
        children.push(
          el('div', { class: 'plots' }, plots),
          el('div', { class: 'detail' }, [
            el('div', { class: 'plot', id: 'widths-' + r }),
            el('div', { class: 'plot', id: 'curves-' + r }),
            el('pre', { id: 'detail-text-' + r }),
          ]),
          el('div', { class: 'controls' }, [
            el('label', {}, [
              'filter ',
              el('input', { id: 'filter-' + r, placeholder: 'xi<5 bestVal>90 abandoned' }),
            ]),
            el('label', {}, [
              'highlight top ',
              el('input', { id: 'topk-' + r, type: 'number', min: 0, value: state.topK[r] }),
            ]),
            el('span', { id: 'count-' + r }),
          ]),
          el('table', { id: 'table-' + r }),
        );
        return el('section', { class: 'run', id: 'run-' + r }, children);
      }),
    );
    data.runs.forEach(function (run, r) {
      document.getElementById('filter-' + r).addEventListener('input', function (e) {
        state.filter[r] = e.target.value;
        table(run, r);
      });
      document.getElementById('topk-' + r).addEventListener('input', function (e) {
        state.topK[r] = Math.max(0, Number(e.target.value) || 0);
        renderRun(r);
      });
      document.getElementById('table-' + r).addEventListener('click', function (e) {
        var th = e.target.closest('th');
        if (th) {
          var key = th.getAttribute('data-key');
          var s = state.sort[r];
          state.sort[r] = { key: key, desc: s.key === key ? !s.desc : key !== 'id' };
          table(data.runs[r], r);
          return;
        }
        var tr = e.target.closest('tr[data-id]');
        if (tr) select(r, Number(tr.getAttribute('data-id')));
      });
    });
  }

  function init() {
    data.runs.forEach(function (run, r) {
      if (state.selected[r] === undefined) state.selected[r] = ranked(run)[0].id;
      if (!state.sort[r]) state.sort[r] = { key: 'bestVal', desc: true };
      if (state.filter[r] === undefined) state.filter[r] = '';
      if (state.topK[r] === undefined) state.topK[r] = Math.min(5, run.architectures.length);
    });
    layout();
    data.runs.forEach(function (_, r) {
      renderRun(r);
    });
    document.getElementById('generated').textContent = data.generated;
  }

  // featshift view: poll the server and redraw when a running sweep has finished more.
  function poll() {
    fetch('data.json', { cache: 'no-store' })
      .then(function (res) {
        return res.ok ? res.json() : null;
      })
      .then(function (next) {
        if (!next || JSON.stringify(next.runs) === JSON.stringify(data.runs)) return;
        data = next;
        window.featshiftReport.data = data;
        init();
      })
      .catch(function () {
        /* the server may be restarting: try again next time */
      });
  }

  window.featshiftReport = { data: data, state: state, select: select, plotIds: plotIds };
  init();
  if (data.live) setInterval(poll, data.pollMs || 3000);
})();
