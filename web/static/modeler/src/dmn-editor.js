// Decision tables (决策表) of a deployed version edited with dmn-js; validated and deployed
// like a diagram: as a new version whose other files are the opened version's.
import 'dmn-js/dist/assets/diagram-js.css';
import 'dmn-js/dist/assets/dmn-js-shared.css';
import 'dmn-js/dist/assets/dmn-js-drd.css';
import 'dmn-js/dist/assets/dmn-js-decision-table.css';
import 'dmn-js/dist/assets/dmn-js-decision-table-controls.css';
import 'dmn-js/dist/assets/dmn-js-literal-expression.css';
import 'dmn-js/dist/assets/dmn-font/css/dmn-embedded.css';

import DmnModeler from 'dmn-js/lib/Modeler';
import { allowEditorStyles } from './style-nonce.js';

const root = document.getElementById('modeler');
const config = JSON.parse(root.dataset.config);
allowEditorStyles(config.styleNonce);
const status = document.getElementById('modeler-status');
const list = document.getElementById('modeler-findings');

function say(text, kind) {
  status.textContent = text;
  status.className = 'modeler-status ' + (kind || '');
}

const modeler = new DmnModeler({ container: '#modeler-canvas' });
window.greenLadderModeler = modeler;

function openDecisionTable() {
  const table = modeler.getViews().find((v) => v.type === 'decisionTable');
  return table ? modeler.open(table) : Promise.resolve();
}

fetch(config.xmlUrl, { credentials: 'same-origin' })
  .then((r) => { if (!r.ok) { throw new Error('HTTP ' + r.status); } return r.text(); })
  .then((xml) => modeler.importXML(xml))
  .then(openDecisionTable)
  .then(() => {
    const views = document.getElementById('modeler-views');
    modeler.getViews().forEach((view) => {
      const b = document.createElement('button');
      b.type = 'button';
      b.textContent = (view.element.name || view.element.id) + ' (' + view.type + ')';
      b.addEventListener('click', () => modeler.open(view));
      views.appendChild(b);
    });
    root.setAttribute('data-state', 'ready');
  })
  .catch((err) => { root.setAttribute('data-state', 'failed'); say(config.texts.loadFailed + ' ' + err.message, 'error'); });

function post(url, body) {
  return fetch(url, {
    method: 'POST', credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRFToken': config.csrf, Accept: 'application/json' },
    body: JSON.stringify(body)
  }).then((r) => r.json().then((data) => ({ status: r.status, data })));
}

function show(findings) {
  list.textContent = '';
  (findings.length ? findings : [{ severity: 'none', message: config.texts.noFindings }]).forEach((f) => {
    const li = document.createElement('li');
    li.className = 'finding ' + f.severity;
    li.dataset.element = f.element || '';
    li.textContent = (f.file ? f.file + ':' + (f.line || '?') + (f.element ? ' [' + f.element + '] ' : ' ') : '') + f.message;
    list.appendChild(li);
  });
}

const xml = () => modeler.saveXML({ format: true }).then((r) => r.xml);

document.getElementById('modeler-validate').addEventListener('click', () => {
  say(config.texts.validating);
  xml().then((text) => post(config.validateUrl, { base: config.base, file: config.file, xml: text }))
    .then(({ status: code, data }) => {
      if (code !== 200) { throw new Error(data.error || ('HTTP ' + code)); }
      show(data.findings);
      const errors = data.findings.filter((f) => f.severity === 'error').length;
      say(errors ? config.texts.hasErrors.replace('%d', errors) : config.texts.valid, errors ? 'error' : 'ok');
    })
    .catch((err) => say(err.message, 'error'));
});

document.getElementById('modeler-deploy-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const note = document.getElementById('modeler-note').value;
  say(config.texts.deploying);
  xml().then((text) => post(config.deployUrl, { base: config.base, file: config.file, xml: text, note }))
    .then(({ status: code, data }) => {
      if (code === 422 && data.findings) { show(data.findings); say(config.texts.notDeployed, 'error'); return; }
      if (code !== 200 && code !== 201) { throw new Error(data.error || ('HTTP ' + code)); }
      config.base = data.version;
      root.setAttribute('data-deployed', data.version);
      show(data.warnings || []);
      say((code === 201 ? config.texts.deployed : config.texts.unchanged).replace('%s', data.version.slice(0, 12)), 'ok');
    })
    .catch((err) => say(err.message, 'error'));
});
