// Chinese for the labels bpmn-js, its palette and its properties panel show (Chinese first,
// as every page here); English pages keep the libraries' own English.
const ZH = {
  General: '常规', Name: '名称', ID: '标识', Documentation: '说明', 'Element documentation': '元素说明',
  'Process documentation': '流程说明', Timer: '定时器', Type: '类型', Value: '值', Date: '日期',
  Duration: '时长', Cycle: '周期', '<none>': '（无）', Message: '消息', Signal: '信号', Error: '错误',
  Escalation: '升级', Link: '链接', Compensation: '补偿', 'Multi-instance': '多实例', Process: '流程',
  'Activate hand tool': '抓手工具', 'Activate lasso tool': '套索工具',
  'Activate create/remove space tool': '插入/删除空间', 'Activate global connect tool': '连线工具',
  'Create start event': '开始事件', 'Create end event': '结束事件', 'Create gateway': '网关',
  'Create task': '任务', 'Create intermediate/boundary event': '中间/边界事件',
  'Create expanded sub-process': '子流程', 'Create pool/participant': '池/参与者',
  'Create data object reference': '数据对象', 'Create data store reference': '数据存储', 'Create group': '分组',
  'Append end event': '追加结束事件', 'Append gateway': '追加网关', 'Append task': '追加任务',
  'Append intermediate/boundary event': '追加中间事件', 'Change element': '更改类型', Delete: '删除',
  'Connect to other element': '连接到其他元素', 'Connect using association': '关联',
  'Add text annotation': '添加注释', 'Add lane above': '在上方添加泳道', 'Add lane below': '在下方添加泳道',
  'Divide into two lanes': '分为两条泳道', 'Divide into three lanes': '分为三条泳道'
};

export default function translateModule(lang) {
  function translate(template, replacements) {
    const text = (lang === 'zh' && ZH[template]) || template;
    return text.replace(/{([^}]+)}/g, (_, key) => (replacements && key in replacements ? replacements[key] : '{' + key + '}'));
  }
  return { translate: ['value', translate] };
}
