// Validation findings (校验结果) beside the canvas, the edited file's first: each with file, line and element; the element
// marked on the canvas; a click on a finding selects the element and brings it into view.
export function setupFindings(modeler, config, say) {
  const list = document.getElementById('modeler-findings');
  let marked = [];

  function clear() {
    const canvas = modeler.get('canvas');
    const registry = modeler.get('elementRegistry');
    marked.forEach(([id, marker]) => { if (registry.get(id)) { canvas.removeMarker(id, marker); } });
    marked = [];
    list.textContent = '';
  }

  function select(id) {
    const el = modeler.get('elementRegistry').get(id);
    if (!el) { say(config.texts.notOnCanvas.replace('%s', id), 'error'); return; }
    modeler.get('canvas').scrollToElement(el);
    modeler.get('selection').select(el);
  }

  function show(findings) {
    clear();
    const canvas = modeler.get('canvas');
    const registry = modeler.get('elementRegistry');
    if (!findings.length) {
      const li = document.createElement('li');
      li.className = 'finding none';
      li.textContent = config.texts.noFindings;
      list.appendChild(li);
      return;
    }
    // the file being edited first: the server sends them so, and a deployment's warnings are sorted here
    const ordered = findings.filter((f) => f.file === config.file).concat(findings.filter((f) => f.file !== config.file));
    ordered.forEach((f, i) => {
      if (f.file !== config.file && (i === 0 || ordered[i - 1].file === config.file)) {
        const heading = document.createElement('li');
        heading.className = 'finding other-files';
        heading.textContent = config.texts.otherFiles;
        list.appendChild(heading);
      }
      const li = document.createElement('li');
      li.className = 'finding ' + f.severity;
      li.dataset.element = f.element || '';
      const onCanvas = f.file === config.file && f.element && registry.get(f.element);
      const marker = f.severity === 'error' ? 'finding-error' : 'finding-warning';
      if (onCanvas) {
        canvas.addMarker(f.element, marker);
        marked.push([f.element, marker]);
      }
      const where = document.createElement(onCanvas ? 'button' : 'span');
      where.className = 'finding-where';
      where.textContent = f.file + ':' + (f.line || '?') + (f.element ? ' [' + f.element + ']' : '');
      if (onCanvas) {
        where.type = 'button';
        where.addEventListener('click', () => select(f.element));
      }
      const sev = document.createElement('strong');
      sev.textContent = f.severity === 'error' ? config.texts.error : config.texts.warning;
      const msg = document.createElement('span');
      msg.className = 'finding-message';
      msg.textContent = f.message;
      li.append(sev, ' ', where, ' ', msg);
      list.appendChild(li);
    });
  }

  return { show, clear };
}
