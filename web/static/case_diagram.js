// The case page's diagram (案件流程图): the case's own model version drawn by
// bpmn-js's NavigatedViewer, with where the case stands marked on it.
(function () {
  'use strict';

  var box = document.getElementById('case-diagram');
  if (!box) {
    return;
  }
  var MARKERS = { completed: 'done', active: 'active', overdue: 'late', failed: 'failed' };

  function settle(state) {
    box.setAttribute('data-state', state);
    var loading = box.querySelector('[data-loading]');
    if (loading) {
      loading.hidden = true;
    }
    if (state === 'failed') {
      box.querySelector('[data-failed]').hidden = false;
    }
  }

  function fetchOk(url, read) {
    return fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json, application/xml' } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(url + ': HTTP ' + response.status);
        }
        return read(response);
      });
  }

  if (typeof window.BpmnJS !== 'function') {
    settle('failed');
    return;
  }

  var canvasBox = document.createElement('div');
  canvasBox.className = 'diagram-canvas';
  box.appendChild(canvasBox);
  var viewer = new window.BpmnJS({ container: canvasBox });

  Promise.all([
    fetchOk(box.dataset.diagramUrl, function (r) { return r.text(); }),
    fetchOk(box.dataset.markersUrl, function (r) { return r.json(); })
  ]).then(function (loaded) {
    return viewer.importXML(loaded[0]).then(function () { return loaded[1]; });
  }).then(function (marks) {
    var canvas = viewer.get('canvas');
    var registry = viewer.get('elementRegistry');
    Object.keys(MARKERS).forEach(function (kind) {
      (marks[kind] || []).forEach(function (id) {
        // An element of a called process is not on this diagram: nothing to mark.
        if (registry.get(id)) {
          canvas.addMarker(id, MARKERS[kind]);
        }
      });
    });
    canvas.zoom('fit-viewport', 'auto');
    settle('ready');
  }).catch(function (err) {
    if (window.console) {
      window.console.error('case diagram:', err);
    }
    settle('failed');
  });
}());
