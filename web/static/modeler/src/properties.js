// Entries of the properties panel for what this project's engine reads from a diagram
// (engine/registry.py, engine/deadlines.py, SpiffWorkflow 3.2's spiff parser): the role a lane
// names, a user task's form and time limit, scripts, conditions, the decision a business-rule
// task calls, a service task's operation and parameters. Time limits and timer expressions are
// edited as fields (working days, calendar days, a yearly date, days of a duration) that write the
// statutory helpers' expression; the timer and message groups are bpmn-js-properties-panel's own.
import { h } from '@bpmn-io/properties-panel/preact';
import { useCallback } from '@bpmn-io/properties-panel/preact/hooks';
import {
  NumberFieldEntry, SelectEntry, TextFieldEntry, TextAreaEntry,
  isNumberFieldEntryEdited, isSelectEntryEdited, isTextFieldEntryEdited, isTextAreaEntryEdited
} from '@bpmn-io/properties-panel';
import { useService } from 'bpmn-js-properties-panel';
import { getBusinessObject, is, isAny } from 'bpmn-js/lib/util/ModelUtil';
import { dateOfKind, fitsDay, isName, readDate, readDuration, writeDate, writeDuration } from './time-fields.js';

const FORM = 'formJsonSchemaFilename';

function extensionOf(bo, type) {
  const ext = bo.get('extensionElements');
  return ext ? (ext.get('values') || []).find((v) => is(v, type)) : undefined;
}

// Commands that give `bo` an extension element of `type` (creating extensionElements if need be).
function ensureExtension(element, bo, type, attrs, bpmnFactory, commands) {
  let ext = bo.get('extensionElements');
  if (!ext) {
    ext = bpmnFactory.create('bpmn:ExtensionElements', { values: [] });
    ext.$parent = bo;
    commands.push({ cmd: 'element.updateModdleProperties',
      context: { element, moddleElement: bo, properties: { extensionElements: ext } } });
  }
  let found = (ext.get('values') || []).find((v) => is(v, type));
  if (!found) {
    found = bpmnFactory.create(type, attrs || {});
    found.$parent = ext;
    commands.push({ cmd: 'element.updateModdleProperties',
      context: { element, moddleElement: ext, properties: { values: [...(ext.get('values') || []), found] } } });
  }
  return found;
}

function removeExtension(element, bo, type, commands) {
  const ext = bo.get('extensionElements');
  if (!ext) { return; }
  const values = (ext.get('values') || []).filter((v) => !is(v, type));
  commands.push({ cmd: 'element.updateModdleProperties',
    context: { element, moddleElement: ext, properties: { values } } });
}

function getProperty(element, name) {
  const props = extensionOf(getBusinessObject(element), 'spiffworkflow:Properties');
  const prop = props && (props.get('properties') || []).find((p) => p.name === name);
  return prop ? prop.value : '';
}

function setProperty(element, name, value, bpmnFactory, commandStack) {
  const bo = getBusinessObject(element);
  const commands = [];
  const props = ensureExtension(element, bo, 'spiffworkflow:Properties', { properties: [] }, bpmnFactory, commands);
  const list = props.get('properties') || [];
  const prop = list.find((p) => p.name === name);
  if (!value) {
    if (prop) {
      commands.push({ cmd: 'element.updateModdleProperties',
        context: { element, moddleElement: props, properties: { properties: list.filter((p) => p !== prop) } } });
    }
  } else if (prop) {
    commands.push({ cmd: 'element.updateModdleProperties',
      context: { element, moddleElement: prop, properties: { value } } });
  } else {
    const created = bpmnFactory.create('spiffworkflow:Property', { name, value });
    created.$parent = props;
    commands.push({ cmd: 'element.updateModdleProperties',
      context: { element, moddleElement: props, properties: { properties: [...list, created] } } });
  }
  if (commands.length) {
    commandStack.execute('properties-panel.multi-command-executor', commands);
  }
}

function roleOptions(config, empty) {
  const options = empty ? [{ value: '', label: empty }] : [];
  return options.concat(config.roles.map((r) => ({ value: r.code, label: r.zh + ' ' + r.en })));
}

function roleOf(config, label) {
  const wanted = (label || '').trim().toLowerCase();
  const role = config.roles.find((r) => [r.code, r.zh, r.en].some((x) => x.toLowerCase() === wanted));
  return role ? role.code : '';
}

// -- components

function PropertyText(props) {
  const { element, id, name, label, description } = props;
  const commandStack = useService('commandStack');
  const bpmnFactory = useService('bpmnFactory');
  const debounce = useService('debounceInput');
  return h(TextFieldEntry, {
    element, id, label, description, debounce,
    getValue: () => getProperty(element, name),
    setValue: (value) => setProperty(element, name, (value || '').trim(), bpmnFactory, commandStack)
  });
}

function PropertySelect(props) {
  const { element, id, name, label, options } = props;
  const commandStack = useService('commandStack');
  const bpmnFactory = useService('bpmnFactory');
  return h(SelectEntry, {
    element, id, label,
    getValue: () => getProperty(element, name),
    setValue: (value) => setProperty(element, name, value, bpmnFactory, commandStack),
    getOptions: () => options
  });
}

function LaneRole(props) {
  const { element, config } = props;
  const modeling = useService('modeling');
  return h(SelectEntry, {
    element, id: 'laneRole', label: config.texts.laneRole,
    getValue: () => roleOf(config, getBusinessObject(element).name),
    setValue: (code) => {
      const role = config.roles.find((r) => r.code === code);
      if (role) { modeling.updateProperties(element, { name: role.zh }); }
    },
    getOptions: () => roleOptions(config, config.texts.noRole)
  });
}

function ScriptBody(props) {
  const { element, config } = props;
  const modeling = useService('modeling');
  const debounce = useService('debounceInput');
  return h(TextAreaEntry, {
    element, id: 'scriptBody', label: config.texts.script, debounce, monospace: true, rows: 5,
    description: config.texts.scriptHelp,
    getValue: () => getBusinessObject(element).get('script') || '',
    setValue: (value) => modeling.updateProperties(element, { script: value || '', scriptFormat: 'python' })
  });
}

function Condition(props) {
  const { element, config } = props;
  const modeling = useService('modeling');
  const bpmnFactory = useService('bpmnFactory');
  const debounce = useService('debounceInput');
  return h(TextFieldEntry, {
    element, id: 'conditionExpression', label: config.texts.condition, debounce,
    description: config.texts.conditionHelp,
    getValue: () => {
      const expr = getBusinessObject(element).get('conditionExpression');
      return expr ? expr.get('body') : '';
    },
    setValue: (value) => {
      const expr = value ? bpmnFactory.create('bpmn:FormalExpression', { body: value }) : undefined;
      modeling.updateProperties(element, { conditionExpression: expr });
    }
  });
}

function BodyExtensionSelect(props) {
  const { element, id, type, label, options } = props;
  const commandStack = useService('commandStack');
  const bpmnFactory = useService('bpmnFactory');
  return h(SelectEntry, {
    element, id, label,
    getValue: () => {
      const ext = extensionOf(getBusinessObject(element), type);
      return ext ? ext.value : '';
    },
    setValue: (value) => {
      const bo = getBusinessObject(element);
      const commands = [];
      if (!value) {
        removeExtension(element, bo, type, commands);
      } else {
        const ext = ensureExtension(element, bo, type, { value }, bpmnFactory, commands);
        commands.push({ cmd: 'element.updateModdleProperties', context: { element, moddleElement: ext, properties: { value } } });
      }
      commandStack.execute('properties-panel.multi-command-executor', commands);
    },
    getOptions: () => options
  });
}

function operatorOf(element) {
  return extensionOf(getBusinessObject(element), 'spiffworkflow:ServiceTaskOperator');
}

function Operator(props) {
  const { element, config } = props;
  const commandStack = useService('commandStack');
  const bpmnFactory = useService('bpmnFactory');
  return h(SelectEntry, {
    element, id: 'serviceTaskOperator', label: config.texts.operation,
    getValue: () => { const op = operatorOf(element); return op ? op.id : ''; },
    setValue: (value) => {
      const commands = [];
      const op = ensureExtension(element, getBusinessObject(element), 'spiffworkflow:ServiceTaskOperator',
        { id: value }, bpmnFactory, commands);
      commands.push({ cmd: 'element.updateModdleProperties', context: { element, moddleElement: op, properties: { id: value } } });
      commandStack.execute('properties-panel.multi-command-executor', commands);
    },
    getOptions: () => [{ value: '', label: '—' }].concat(config.operations.map((o) => ({ value: o, label: o })))
  });
}

function OperatorResult(props) {
  const { element, config } = props;
  const commandStack = useService('commandStack');
  const debounce = useService('debounceInput');
  return h(TextFieldEntry, {
    element, id: 'serviceResultVariable', label: config.texts.resultVariable, debounce,
    getValue: () => { const op = operatorOf(element); return (op && op.resultVariable) || ''; },
    setValue: (value) => {
      const op = operatorOf(element);
      if (op) {
        commandStack.execute('element.updateModdleProperties',
          { element, moddleElement: op, properties: { resultVariable: value || undefined } });
      }
    }
  });
}

// Parameters one a line, `name = expression`: the expression is Python over the case data.
function OperatorParameters(props) {
  const { element, config } = props;
  const commandStack = useService('commandStack');
  const bpmnFactory = useService('bpmnFactory');
  const debounce = useService('debounceInput');
  return h(TextAreaEntry, {
    element, id: 'serviceParameters', label: config.texts.parameters, debounce, monospace: true, rows: 6,
    description: config.texts.parametersHelp,
    getValue: () => {
      const op = operatorOf(element);
      const list = op && op.parameterList ? op.parameterList.get('parameters') : [];
      return list.map((p) => p.id + ' = ' + (p.value || '')).join('\n');
    },
    setValue: (text) => {
      const op = operatorOf(element);
      if (!op) { return; }
      // a parameter keeps the type it was written with (e.g. working_days type="int")
      const types = {};
      (op.parameterList ? op.parameterList.get('parameters') : []).forEach((p) => { types[p.id] = p.type; });
      const params = bpmnFactory.create('spiffworkflow:Parameters', { parameters: [] });
      params.$parent = op;
      (text || '').split('\n').forEach((line) => {
        const at = line.indexOf('=');
        if (at <= 0) { return; }
        const p = bpmnFactory.create('spiffworkflow:Parameter',
          { id: line.slice(0, at).trim(), type: types[line.slice(0, at).trim()] || 'str', value: line.slice(at + 1).trim() });
        p.$parent = params;
        params.get('parameters').push(p);
      });
      commandStack.execute('element.updateModdleProperties',
        { element, moddleElement: op, properties: { parameterList: params } });
    }
  });
}

// -- time limits and timers as fields (see time-fields.js)

// Where a time expression lives: a user task's property, or the expression of a timer event.
function propertySource(name) {
  return {
    key: name,
    endOfDay: false,
    read: (element) => getProperty(element, name),
    useWrite: () => {
      const commandStack = useService('commandStack');
      const bpmnFactory = useService('bpmnFactory');
      return (element, text) => setProperty(element, name, text, bpmnFactory, commandStack);
    }
  };
}

function timerExpression(element) {
  const def = (getBusinessObject(element).get('eventDefinitions') || []).find((d) => is(d, 'bpmn:TimerEventDefinition'));
  const kind = def && ['timeDate', 'timeDuration', 'timeCycle'].find((k) => def.get(k));
  return kind ? { kind, expr: def.get(kind) } : null;
}

// a timer's date must come out as a moment, so a new one ends at the end of its day
const TIMER = {
  key: 'timer',
  endOfDay: true,
  read: (element) => { const t = timerExpression(element); return t ? (t.expr.get('body') || '') : ''; },
  useWrite: () => {
    const commandStack = useService('commandStack');
    return (element, text) => {
      const t = timerExpression(element);
      if (t) {
        commandStack.execute('element.updateModdleProperties',
          { element, moddleElement: t.expr, properties: { body: text } });
      }
    };
  }
};

// Expressions the analyst asked to write as text although the fields could say them.
const asText = new Set();

function textKey(element, source) {
  return getBusinessObject(element).id + ':' + source.key;
}

function dateKind(element, source) {
  const text = source.read(element);
  if (!text) { return ''; }
  if (asText.has(textKey(element, source))) { return 'expression'; }
  const date = readDate(text);
  return date ? date.kind : 'expression';
}

function DateKind(props) {
  const { element, id, label, source, allowNone, config } = props;
  const t = config.texts;
  const write = source.useWrite();
  const eventBus = useService('eventBus');
  const options = (allowNone ? [{ value: '', label: t.noLimit }] : []).concat([
    { value: 'working', label: t.workingDays }, { value: 'calendar', label: t.calendarDays },
    { value: 'annual', label: t.annualDate }, { value: 'expression', label: t.otherExpression }]);
  return h(SelectEntry, {
    element, id, label,
    getValue: () => dateKind(element, source),
    setValue: (kind) => {
      const key = textKey(element, source);
      const before = readDate(source.read(element));
      if (kind === 'expression') {
        asText.add(key);
        eventBus.fire('elements.changed', { elements: [element] }); // the diagram is unchanged: show the text
        return;
      }
      asText.delete(key);
      write(element, kind ? writeDate(dateOfKind(kind, before, before ? before.endOfDay : source.endOfDay)) : '');
    },
    getOptions: () => options
  });
}

function wholeDays(t) {
  return (value) => (Number.isInteger(value) && value >= 0 && value <= 3650 ? null : t.wholeDays);
}

function DatePart(props) {
  const { element, id, label, description, source, part, config } = props;
  const t = config.texts;
  const write = source.useWrite();
  const debounce = useService('debounceInput');
  const date = () => readDate(source.read(element)) || {};
  // one function for the entry's life: the panel re-checks its shown value whenever `validate` changes,
  // which would clear the message of a value just refused
  const validate = useCallback(part === 'days' ? wholeDays(t) : (value) => {
    const d = { ...(readDate(source.read(element)) || {}), [part]: value };
    const fits = part === 'month' ? fitsDay(value, 1) : fitsDay(d.month, value);
    return Number.isInteger(value) && fits ? null : t.noSuchDay;
  }, [element, part]);
  return h(NumberFieldEntry, {
    element, id, label, description, debounce, min: part === 'days' ? 0 : 1, max: part === 'month' ? 12 : undefined,
    step: 1, validate,
    getValue: () => date()[part],
    setValue: (value, error) => {
      const d = readDate(source.read(element));
      if (error || value === undefined || !d) { return; }
      const next = { ...d, [part]: value };
      if (part === 'month') { // 31 March moved to April is 30 April, its last day
        while (!fitsDay(next.month, next.day)) { next.day -= 1; }
      }
      write(element, writeDate(next));
    }
  });
}

function DateFrom(props) {
  const { element, id, source, config } = props;
  const t = config.texts;
  const write = source.useWrite();
  const debounce = useService('debounceInput');
  return h(TextFieldEntry, {
    element, id, label: t.from, description: t.fromHelp, debounce,
    validate: useCallback((value) => (!value || isName(value.trim()) ? null : t.fromInvalid), [t]),
    getValue: () => (readDate(source.read(element)) || {}).from || '',
    setValue: (value, error) => {
      const d = readDate(source.read(element));
      const from = (value || '').trim();
      if (error || !d || (from && !isName(from))) { return; }
      write(element, writeDate({ ...d, from }));
    }
  });
}

function DurationDays(props) {
  const { element, id, label, description, source, quoted, config } = props;
  const write = source.useWrite();
  const debounce = useService('debounceInput');
  const validate = useCallback((v) => (v === undefined ? null : wholeDays(config.texts)(v)), [config]);
  return h(NumberFieldEntry, {
    element, id, label, description, debounce, min: 0, step: 1, validate,
    getValue: () => { const d = readDuration(source.read(element)); return d ? d.days : ''; },
    setValue: (value, error) => {
      if (error) { return; }
      const d = readDuration(source.read(element));
      write(element, value === undefined ? '' : writeDuration({ days: value, quoted: d ? d.quoted : quoted }));
    }
  });
}

// The entries of one date: its kind, then the fields of that kind, or the expression as text.
function addDate(add, element, config, source, prefix, label, allowNone, textEntry) {
  const t = config.texts;
  const kind = dateKind(element, source);
  add(prefix + 'Kind', DateKind, isSelectEntryEdited, { source, label, allowNone });
  if (kind === 'working' || kind === 'calendar') {
    add(prefix + 'Days', DatePart, isNumberFieldEntryEdited, { source, part: 'days',
      label: kind === 'working' ? t.workingDaysCount : t.calendarDaysCount });
    add(prefix + 'From', DateFrom, isTextFieldEntryEdited, { source });
  } else if (kind === 'annual') {
    add(prefix + 'Month', DatePart, isNumberFieldEntryEdited, { source, part: 'month', label: t.month });
    add(prefix + 'Day', DatePart, isNumberFieldEntryEdited, { source, part: 'day', label: t.day });
  } else if (kind === 'expression') {
    textEntry(!readDate(source.read(element)));
  }
}

function addTimer(add, element, config) {
  const t = config.texts;
  const timer = timerExpression(element);
  const text = TIMER.read(element);
  const asTextNote = () => add('timerHelp', Note, () => false, { text: t.timerAsText + ' ' + t.timerHelp });
  if (timer && timer.kind === 'timeDate' && text) {
    addDate(add, element, config, TIMER, 'timerDate', t.timerDate, false, asTextNote);
  } else if (timer && timer.kind === 'timeDuration' && (!text || readDuration(text))) {
    add('timerDurationDays', DurationDays, isNumberFieldEntryEdited, { source: TIMER, quoted: true,
      label: t.timerDurationDays });
  } else {
    add('timerHelp', Note, () => false, { text: (text ? t.timerAsText + ' ' : '') + t.timerHelp });
  }
}

function Note(props) {
  return h('div', { class: 'bio-properties-panel-entry green-ladder-note', 'data-entry-id': props.id }, props.text);
}

function isConditional(element) {
  if (!is(element, 'bpmn:SequenceFlow')) { return false; }
  const source = getBusinessObject(element).sourceRef;
  return !!source && isAny(source, ['bpmn:ExclusiveGateway', 'bpmn:InclusiveGateway']);
}

function hasTimer(element) {
  const bo = getBusinessObject(element);
  return (bo.get('eventDefinitions') || []).some((d) => is(d, 'bpmn:TimerEventDefinition'));
}

function entries(element, config) {
  const t = config.texts;
  const list = [];
  const add = (id, component, isEdited, extra) => list.push({ id, component, isEdited, element, config, ...extra });
  if (is(element, 'bpmn:Lane')) {
    add('laneRole', LaneRole, isSelectEntryEdited);
  }
  if (is(element, 'bpmn:UserTask')) {
    add(FORM, PropertySelect, isSelectEntryEdited, { name: FORM, label: t.form,
      options: [{ value: '', label: t.noForm }].concat(config.forms.map((f) => ({ value: f, label: f }))) });
    addDate(add, element, config, propertySource('dueDate'), 'dueDate', t.dueDate, true, (notFields) =>
      add('dueDate', PropertyText, isTextFieldEntryEdited, { name: 'dueDate', label: t.dueDateExpression,
        description: (notFields ? t.notFields + ' ' : '') + t.dueDateHelp }));
    const remind = getProperty(element, 'remindBefore');
    if (!remind || readDuration(remind)) {
      add('remindBeforeDays', DurationDays, isNumberFieldEntryEdited, { source: propertySource('remindBefore'),
        quoted: false, label: t.remindBeforeDays, description: t.remindBeforeDaysHelp });
    } else {
      add('remindBefore', PropertyText, isTextFieldEntryEdited, { name: 'remindBefore', label: t.remindBefore,
        description: t.notFields + ' ' + t.remindBeforeHelp });
    }
    add('escalateTo', PropertySelect, isSelectEntryEdited, { name: 'escalateTo', label: t.escalateTo,
      options: roleOptions(config, t.ownRole) });
    add('caseFileSections', PropertyText, isTextFieldEntryEdited, { name: 'caseFileSections',
      label: t.caseFileSections, description: t.caseFileSectionsHelp });
  }
  if (is(element, 'bpmn:ScriptTask')) {
    add('scriptBody', ScriptBody, isTextAreaEntryEdited);
  }
  if (isConditional(element)) {
    add('conditionExpression', Condition, isTextFieldEntryEdited);
  }
  if (is(element, 'bpmn:BusinessRuleTask')) {
    add('calledDecisionId', BodyExtensionSelect, isSelectEntryEdited, { type: 'spiffworkflow:CalledDecisionId',
      label: t.decision, options: [{ value: '', label: '—' }].concat(config.decisions.map((d) => ({ value: d, label: d }))) });
  }
  if (is(element, 'bpmn:ServiceTask')) {
    add('serviceTaskOperator', Operator, isSelectEntryEdited);
    add('serviceResultVariable', OperatorResult, isTextFieldEntryEdited);
    add('serviceParameters', OperatorParameters, isTextAreaEntryEdited);
  }
  if (isAny(element, ['bpmn:Event']) && hasTimer(element)) {
    addTimer(add, element, config);
  }
  return list;
}

function GreenLadderPropertiesProvider(propertiesPanel, config) {
  this.getGroups = function (element) {
    return function (groups) {
      const list = entries(element, config);
      if (list.length) {
        groups.splice(1, 0, { id: 'greenLadder', label: config.texts.groupLabel, entries: list });
      }
      return groups;
    };
  };
  propertiesPanel.registerProvider(500, this);
}
GreenLadderPropertiesProvider.$inject = ['propertiesPanel', 'greenLadderConfig'];

export default {
  __init__: ['greenLadderPropertiesProvider'],
  greenLadderPropertiesProvider: ['type', GreenLadderPropertiesProvider]
};
