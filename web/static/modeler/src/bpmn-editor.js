// The analysts' BPMN modeler (流程建模器): bpmn-js with its properties panel and a group of
// entries for what this project's engine reads, validation findings marked on the canvas, and
// deployment as a new version. Bundled by esbuild (`make` builds it from node_modules).
import 'bpmn-js/dist/assets/diagram-js.css';
import 'bpmn-js/dist/assets/bpmn-js.css';
import 'bpmn-js/dist/assets/bpmn-font/css/bpmn-embedded.css';
import '@bpmn-io/properties-panel/dist/assets/properties-panel.css';

import BpmnModeler from 'bpmn-js/lib/Modeler';
import { BpmnPropertiesPanelModule, BpmnPropertiesProviderModule } from 'bpmn-js-properties-panel';

import spiffworkflow from '../spiffworkflow.json';
import GreenLadderProperties from './properties.js';
import { setupFindings } from './findings.js';
import translateModule from './translate-zh.js';
import { allowEditorStyles } from './style-nonce.js';

const root = document.getElementById('modeler');
const config = JSON.parse(root.dataset.config);
allowEditorStyles(config.styleNonce);
const status = document.getElementById('modeler-status');

function say(text, kind) {
  status.textContent = text;
  status.className = 'modeler-status ' + (kind || '');
}

const modeler = new BpmnModeler({
  container: '#modeler-canvas',
  propertiesPanel: { parent: '#modeler-properties' },
  additionalModules: [
    BpmnPropertiesPanelModule,
    BpmnPropertiesProviderModule,
    GreenLadderProperties,
    { greenLadderConfig: ['value', config] },
    translateModule(config.lang)
  ],
  moddleExtensions: { spiffworkflow }
});
window.greenLadderModeler = modeler; // for the browser tests and the console

const findings = setupFindings(modeler, config, say);

// SpiffWorkflow reads a multi-instance task's loopDataInputRef and loopDataOutputRef as names of
// case data (<bpmn:loopDataInputRef>cities</bpmn:loopDataInputRef>: one task for each city), but
// bpmn-moddle takes them for references to data elements by id: finding no element "cities", it
// warns and drops them, and the next save would lose the loop's collection (the engine then
// refuses the task). Each such name is kept on a stand-in that is written back as the same name.
const LOOP_DATA_REFS = ['bpmn:loopDataInputRef', 'bpmn:loopDataOutputRef'];

function keepLoopDataNames(warnings) {
  const moddle = modeler.get('moddle');
  (warnings || []).forEach((w) => {
    if (w.element && LOOP_DATA_REFS.includes(w.property) && w.value) {
      w.element.set(w.property, moddle.create('bpmn:ItemAwareElement', { id: w.value }));
    }
  });
}

fetch(config.xmlUrl, { credentials: 'same-origin' })
  .then((r) => {
    if (!r.ok) { throw new Error('HTTP ' + r.status); }
    return r.text();
  })
  .then((xml) => modeler.importXML(xml))
  .then(({ warnings }) => {
    keepLoopDataNames(warnings);
    modeler.get('canvas').zoom('fit-viewport', 'auto');
    root.setAttribute('data-state', 'ready');
  })
  .catch((err) => {
    root.setAttribute('data-state', 'failed');
    say(config.texts.loadFailed + ' ' + err.message, 'error');
  });

function post(url, body) {
  return fetch(url, {
    method: 'POST',
    credentials: 'same-origin',
    headers: { 'Content-Type': 'application/json', 'X-CSRFToken': config.csrf, Accept: 'application/json' },
    body: JSON.stringify(body)
  }).then((r) => r.json().then((data) => ({ status: r.status, data })));
}

function currentXml() {
  return modeler.saveXML({ format: true }).then((r) => r.xml);
}

document.getElementById('modeler-undo').addEventListener('click', () => modeler.get('commandStack').undo());

document.getElementById('modeler-validate').addEventListener('click', () => {
  say(config.texts.validating);
  currentXml()
    .then((xml) => post(config.validateUrl, { base: config.base, file: config.file, xml }))
    .then(({ status: code, data }) => {
      if (code !== 200) { throw new Error(data.error || ('HTTP ' + code)); }
      findings.show(data.findings);
      const errors = data.findings.filter((f) => f.severity === 'error').length;
      say(errors ? config.texts.hasErrors.replace('%d', errors) : config.texts.valid, errors ? 'error' : 'ok');
      root.setAttribute('data-validated', errors ? 'errors' : 'valid');
    })
    .catch((err) => say(err.message, 'error'));
});

document.getElementById('modeler-deploy-form').addEventListener('submit', (event) => {
  event.preventDefault();
  const note = document.getElementById('modeler-note').value;
  say(config.texts.deploying);
  currentXml()
    .then((xml) => post(config.deployUrl, { base: config.base, file: config.file, xml, note }))
    .then(({ status: code, data }) => {
      if (code === 422 && data.findings) {
        findings.show(data.findings);
        say(config.texts.notDeployed, 'error');
        return;
      }
      if (code !== 200 && code !== 201) { throw new Error(data.error || ('HTTP ' + code)); }
      findings.show(data.warnings || []);
      config.base = data.version;
      root.setAttribute('data-deployed', data.version);
      say((code === 201 ? config.texts.deployed : config.texts.unchanged).replace('%s', data.version.slice(0, 12)), 'ok');
      const link = document.getElementById('modeler-history-link');
      if (link && data.history_url) { link.href = data.history_url; link.hidden = false; }
    })
    .catch((err) => say(err.message, 'error'));
});
