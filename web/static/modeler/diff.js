// The diff between two versions drawn on their diagrams (版本差异): the old version with what was
// removed or changed, the new one with what was added or changed. The list comes from
// engine/model_diff.py; this only colours the shapes it names.
(function () {
  'use strict';

  var box = document.getElementById('diff-diagrams');
  if (!box || typeof window.BpmnJS !== 'function') {
    return;
  }
  var changes = JSON.parse(box.dataset.changes);

  function draw(container, url, file, kinds) {
    var viewer = new window.BpmnJS({ container: container });
    return fetch(url, { credentials: 'same-origin' })
      .then(function (r) { return r.text(); })
      .then(function (xml) { return viewer.importXML(xml); })
      .then(function () {
        var canvas = viewer.get('canvas');
        var registry = viewer.get('elementRegistry');
        changes.forEach(function (c) {
          if (c.file === file && kinds.indexOf(c.change) >= 0 && registry.get(c.element)) {
            canvas.addMarker(c.element, 'diff-' + c.change);
          }
        });
        canvas.zoom('fit-viewport', 'auto');
      });
  }

  Promise.all([
    draw('#diff-old', box.dataset.oldUrl, box.dataset.oldFile, ['removed', 'changed']),
    draw('#diff-new', box.dataset.newUrl, box.dataset.newFile, ['added', 'changed'])
  ]).then(function () {
    box.setAttribute('data-state', 'ready');
  }).catch(function (err) {
    box.setAttribute('data-state', 'failed');
    if (window.console) { window.console.error('diff:', err); }
  });
}());
