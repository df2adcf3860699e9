// The BPMN modeler page for platform admins: bpmn-js + the Camunda 7 (platform) properties panel.
// It talks to the JSON API with a bearer token kept in sessionStorage; the page itself is public.
import BpmnModeler from 'bpmn-js/lib/Modeler';
import {
  BpmnPropertiesPanelModule,
  BpmnPropertiesProviderModule,
  CamundaPlatformPropertiesProviderModule
} from 'bpmn-js-properties-panel';
import CamundaPlatformBehaviorsModule from 'camunda-bpmn-js-behaviors/lib/camunda-platform';
import camundaModdle from 'camunda-bpmn-moddle/resources/camunda.json';

import 'bpmn-js/dist/assets/diagram-js.css';
import 'bpmn-js/dist/assets/bpmn-js.css';
import 'bpmn-js/dist/assets/bpmn-font/css/bpmn-embedded.css';
import '@bpmn-io/properties-panel/dist/assets/properties-panel.css';
import './modeler.css';

import { hideUnusedGroupsModule } from './groups.js';
import { translateModule } from './translate.js';

const TOKEN_KEY = 'orglife.accessToken';
const $ = (id) => document.getElementById(id);

// ---- API ------------------------------------------------------------------------------------------------------

class ApiFailure extends Error {
  constructor(status, body) {
    super((body && (body.detail || body.title)) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

async function api(method, path, { json, xml, accept } = {}) {
  const headers = {};
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  let body;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (xml !== undefined) {
    headers['Content-Type'] = 'application/xml';
    body = xml;
  }
  if (accept) headers.Accept = accept;
  const response = await fetch(path, { method, headers, body });
  const type = response.headers.get('Content-Type') || '';
  const data = type.includes('json') ? await response.json().catch(() => null) : await response.text();
  if (response.status === 401 && path !== '/api/auth/login') {
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin('登录已失效，请重新登录。');
  }
  return { status: response.status, ok: response.ok, data };
}

function problemText(result) {
  const data = result.data;
  if (data && typeof data === 'object') return data.detail || data.title || data.code || `HTTP ${result.status}`;
  return `HTTP ${result.status}`;
}

// ---- views: login / refusal / editor ----------------------------------------------------------------------------

function showOnly(id) {
  for (const view of ['login-view', 'denied-view', 'editor-view']) $(view).hidden = view !== id;
}

function showLogin(message) {
  $('whoami').hidden = true;
  showOnly('login-view');
  const error = $('login-error');
  error.textContent = message || '';
  error.hidden = !message;
  $('login-username').focus();
}

async function login(event) {
  event.preventDefault();
  const username = $('login-username').value.trim();
  const password = $('login-password').value;
  $('login-submit').disabled = true;
  try {
    const result = await api('POST', '/api/auth/login', { json: { username, password } });
    if (!result.ok) {
      showLogin(result.status === 401 ? '用户名或密码错误。' : `登录失败：${problemText(result)}`);
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, result.data.access_token);
    $('login-password').value = '';
    if (result.data.must_change_password) {
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin('该账号需先修改初始密码（POST /api/auth/password），然后再登录。');
      return;
    }
    await enter();
  } finally {
    $('login-submit').disabled = false;
  }
}

function logout() {
  sessionStorage.removeItem(TOKEN_KEY);
  location.reload();
}

async function enter() {
  const me = await api('GET', '/api/me');
  if (!me.ok) {
    if (me.status !== 401) showLogin(`无法读取当前用户：${problemText(me)}`);
    return;
  }
  $('whoami-name').textContent = me.data.username;
  $('whoami').hidden = false;
  const isPlatformAdmin = (me.data.roles || []).some((grant) => grant.role === 'platform_admin');
  if (!isPlatformAdmin) {
    $('denied-message').textContent = `仅平台管理员可用。当前账号 ${me.data.username} 没有平台管理员（platform_admin）角色。`;
    showOnly('denied-view');
    return;
  }
  showOnly('editor-view');
  startEditor();
}

// ---- the editor ----------------------------------------------------------------------------------------------

let modeler = null;
let current = null; // { key, version, name } of what was opened or deployed last
let dirty = false;
let errorMarkers = [];

function startEditor() {
  if (modeler) return;
  modeler = new BpmnModeler({
    container: '#canvas',
    propertiesPanel: {
      parent: '#properties',
      layout: {
        groups: {
          general: { open: true },
          CamundaPlatform__Form: { open: true },
          CamundaPlatform__UserAssignment: { open: true },
          CamundaPlatform__Condition: { open: true }
        }
      }
    },
    additionalModules: [
      BpmnPropertiesPanelModule,
      BpmnPropertiesProviderModule,
      CamundaPlatformPropertiesProviderModule,
      CamundaPlatformBehaviorsModule,
      hideUnusedGroupsModule,
      translateModule
    ],
    moddleExtensions: { camunda: camundaModdle }
  });
  window.orglifeModeler = modeler; // for debugging and the browser tests
  modeler.on('commandStack.changed', () => setDirty(true));
  new MutationObserver(decoratePanel).observe($('properties'), { childList: true, subtree: true });

  $('btn-new').addEventListener('click', newDiagram);
  $('btn-validate').addEventListener('click', validate);
  $('btn-deploy').addEventListener('click', deploy);
  $('btn-download').addEventListener('click', download);
  $('refresh-definitions').addEventListener('click', loadDefinitions);
  loadDefinitions();
  loadVocabulary();
}

function setDirty(value) {
  dirty = value;
  $('dirty').hidden = !value;
}

function setCurrent(info) {
  current = info;
  $('current').textContent = info
    ? `当前：${info.name || info.key}（${info.key}${info.version ? ` · 版本 ${info.version}` : ' · 未部署'}）`
    : '未打开流程';
}

function status(message, kind = 'info') {
  const box = $('status');
  box.textContent = message;
  box.className = `status ${kind}`;
  box.hidden = !message;
}

function confirmDiscard() {
  return !dirty || window.confirm('当前流程有未部署的修改，确定放弃吗？');
}

// ---- definitions list -----------------------------------------------------------------------------------------

const CATEGORY = { meeting: '会议', transfer: '转接', other: '其他' };

async function loadDefinitions() {
  const list = $('definitions');
  const result = await api('GET', '/api/process-definitions');
  list.replaceChildren();
  if (!result.ok) {
    list.append(li(`无法读取流程列表：${problemText(result)}`, 'error'));
    return;
  }
  for (const definition of result.data) {
    const item = document.createElement('li');
    item.dataset.key = definition.key;
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'open-definition';
    open.dataset.key = definition.key;
    open.innerHTML = '<span class="name"></span><span class="meta"></span>';
    open.querySelector('.name').textContent = definition.name || definition.key;
    open.querySelector('.meta').textContent =
      `${definition.key} · 版本 ${definition.version} · ${CATEGORY[definition.category] || definition.category || ''}`
      + (definition.enabled ? '' : ' · 已停用');
    open.title = `打开 ${definition.key} 的最新版本`;
    open.addEventListener('click', () => openDefinition(definition.key, null));
    const toggle = document.createElement('button');
    toggle.type = 'button';
    toggle.className = 'versions-toggle';
    toggle.textContent = '历史版本';
    const versions = document.createElement('ul');
    versions.className = 'versions';
    versions.hidden = true;
    toggle.addEventListener('click', () => toggleVersions(definition.key, versions));
    item.append(open, toggle, versions);
    list.append(item);
  }
}

async function toggleVersions(key, container) {
  container.hidden = !container.hidden;
  if (container.hidden) return;
  container.replaceChildren(li('加载中…'));
  const result = await api('GET', `/api/process-definitions/${encodeURIComponent(key)}/versions`);
  container.replaceChildren();
  if (!result.ok) {
    container.append(li(`无法读取版本：${problemText(result)}`, 'error'));
    return;
  }
  for (const version of result.data) {
    const item = document.createElement('li');
    const open = document.createElement('button');
    open.type = 'button';
    open.className = 'open-version';
    open.dataset.version = version.version;
    const when = version.deployed_at ? version.deployed_at.slice(0, 16).replace('T', ' ') : '';
    open.textContent = `版本 ${version.version} · ${when}`
      + (version.deployed_by ? ` · ${version.deployed_by}` : '')
      + (version.running_instances ? ` · 运行中 ${version.running_instances}` : '')
      + (version.enabled ? '' : ' · 已停用');
    open.addEventListener('click', () => openDefinition(key, version.version));
    item.append(open);
    container.append(item);
  }
}

function li(text, className) {
  const item = document.createElement('li');
  item.textContent = text;
  if (className) item.className = className;
  return item;
}

async function openDefinition(key, version) {
  if (!confirmDiscard()) return;
  const query = version ? `?version=${version}` : '';
  const result = await api('GET', `/api/process-definitions/${encodeURIComponent(key)}/xml${query}`,
    { accept: 'application/xml' });
  if (!result.ok) {
    status(`无法打开 ${key}：${problemText(result)}`, 'error');
    return;
  }
  if (await importXml(result.data)) {
    const name = processInfo().name;
    const shownVersion = version || listedVersion(key);
    setCurrent({ key, version: shownVersion, name });
    status(`已打开 ${name || key}${shownVersion ? `（版本 ${shownVersion}）` : ''}。`, 'info');
  }
}

function listedVersion(key) {
  const item = document.querySelector(`#definitions li[data-key="${CSS.escape(key)}"] .meta`);
  const match = item && item.textContent.match(/版本 (\d+)/);
  return match ? Number(match[1]) : null;
}

async function importXml(xml) {
  clearReport();
  try {
    const { warnings } = await modeler.importXML(xml);
    modeler.get('canvas').zoom('fit-viewport');
    modeler.get('commandStack').clear();
    setDirty(false);
    if (warnings && warnings.length) console.warn('import warnings', warnings);
    return true;
  } catch (error) {
    status(`无法解析 BPMN：${error.message}`, 'error');
    return false;
  }
}

function processInfo() {
  const definitions = modeler.getDefinitions();
  const process = definitions && definitions.rootElements.find((element) => element.$type === 'bpmn:Process');
  return { key: process ? process.id : 'process', name: process ? process.name : '' };
}

// ---- new / download -------------------------------------------------------------------------------------------

function skeleton() {
  const key = `new_process_${Date.now().toString(36)}`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
                  xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
                  xmlns:di="http://www.omg.org/spec/DD/20100524/DI"
                  xmlns:camunda="http://camunda.org/schema/1.0/bpmn"
                  id="defs_${key}" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:collaboration id="collab_${key}">
    <bpmn:participant id="pool_${key}" name="新流程" processRef="${key}" />
  </bpmn:collaboration>
  <bpmn:process id="${key}" name="新流程" isExecutable="true">
    <bpmn:extensionElements>
      <camunda:properties>
        <camunda:property name="category" value="meeting" />
      </camunda:properties>
    </bpmn:extensionElements>
    <bpmn:laneSet id="laneset_${key}">
      <bpmn:lane id="lane_branch_admin" name="branch_admin">
        <bpmn:flowNodeRef>start</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" name="开始" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="diagram_${key}">
    <bpmndi:BPMNPlane id="plane_${key}" bpmnElement="collab_${key}">
      <bpmndi:BPMNShape id="pool_${key}_di" bpmnElement="pool_${key}" isHorizontal="true">
        <dc:Bounds x="120" y="80" width="700" height="200" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="lane_branch_admin_di" bpmnElement="lane_branch_admin" isHorizontal="true">
        <dc:Bounds x="150" y="80" width="670" height="200" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="start_di" bpmnElement="start">
        <dc:Bounds x="212" y="162" width="36" height="36" />
      </bpmndi:BPMNShape>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
`;
}

async function newDiagram() {
  if (!confirmDiscard()) return;
  if (await importXml(skeleton())) {
    const info = processInfo();
    setCurrent({ key: info.key, version: null, name: info.name });
    status('已新建空白流程：选中泳池可修改流程 ID（即流程 key）和名称，泳道名称用角色名。', 'info');
  }
}

async function currentXml() {
  const { xml } = await modeler.saveXML({ format: true });
  return xml;
}

async function download() {
  if (!current) {
    status('请先打开或新建一个流程。', 'error');
    return;
  }
  const xml = await currentXml();
  const link = document.createElement('a');
  link.href = URL.createObjectURL(new Blob([xml], { type: 'application/xml' }));
  link.download = `${processInfo().key}.bpmn`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

// ---- validate / deploy ----------------------------------------------------------------------------------------

async function validate() {
  if (!current) {
    status('请先打开或新建一个流程。', 'error');
    return;
  }
  status('正在校验…', 'info');
  const result = await api('POST', '/api/process-definitions/validate', { xml: await currentXml() });
  if (result.ok && result.data && typeof result.data === 'object') {
    const data = result.data;
    if (data.valid) {
      status('', 'info');
      showReport(`校验通过：${data.name || ''}（${data.key || processInfo().key}，${CATEGORY[data.category] || data.category || ''}）`, [], 'ok');
    } else {
      status('', 'info');
      showReport(`校验未通过：${(data.errors || []).length} 个问题`, data.errors || [], 'error');
    }
    return;
  }
  status('', 'info');
  showReport(`校验失败：${problemText(result)}`, (result.data && result.data.errors) || [], 'error');
}

async function deploy() {
  if (!current) {
    status('请先打开或新建一个流程。', 'error');
    return;
  }
  status('正在部署…', 'info');
  const result = await api('POST', '/api/process-definitions', { xml: await currentXml() });
  status('', 'info');
  if (result.status === 201 || result.status === 200) {
    const { key, name, version } = result.data;
    setCurrent({ key, version, name });
    setDirty(false);
    clearReport();
    showReport(result.status === 201
      ? `已部署：${name || key}（${key}）新版本 ${version}`
      : `内容未变化，仍为版本 ${version}（${key}）`, [], 'ok');
    loadDefinitions();
    return;
  }
  const errors = (result.data && result.data.errors) || [];
  const title = result.status === 422 && result.data && result.data.code === 'invalid_bpmn'
    ? `部署被拒绝：${errors.length} 个问题`
    : `部署失败：${problemText(result)}`;
  showReport(title, Array.isArray(errors) ? errors : [], 'error');
}

// ---- the inline report ----------------------------------------------------------------------------------------

function findElement(elementId) {
  if (!elementId) return null;
  const registry = modeler.get('elementRegistry');
  const direct = registry.get(elementId);
  if (direct && direct.type !== 'label') return direct;
  // A process-level problem names the process: show its pool.
  return registry.find((element) => element.businessObject && element.businessObject.processRef
    && element.businessObject.processRef.id === elementId) || null;
}

function clearReport() {
  const canvas = modeler && modeler.get('canvas');
  for (const element of errorMarkers) {
    try { canvas.removeMarker(element, 'orglife-error'); } catch (_) { /* element gone */ }
  }
  errorMarkers = [];
  $('report').hidden = true;
  $('report-errors').replaceChildren();
}

function showReport(title, errors, kind) {
  clearReport();
  const canvas = modeler.get('canvas');
  $('report').className = `report ${kind}`;
  $('report-title').textContent = title;
  const list = $('report-errors');
  for (const error of errors) {
    const item = document.createElement('li');
    const element = findElement(error.element_id);
    item.dataset.elementId = error.element_id || '';
    const where = document.createElement('span');
    where.className = 'where';
    where.textContent = [error.line ? `第 ${error.line} 行` : null, error.element_id || '（整个文件）']
      .filter(Boolean).join(' · ');
    const message = document.createElement('span');
    message.className = 'message';
    message.textContent = error.message;
    item.append(where, message);
    if (element) {
      item.classList.add('clickable');
      item.title = '在画布中选中该元素';
      item.addEventListener('click', () => focusElement(element));
      canvas.addMarker(element, 'orglife-error');
      errorMarkers.push(element);
    }
    list.append(item);
  }
  $('report').hidden = false;
}

function focusElement(element) {
  modeler.get('selection').select(element);
  try { modeler.get('canvas').scrollToElement(element); } catch (_) { /* root elements cannot scroll */ }
}

// ---- vocabulary: lanes and actions ----------------------------------------------------------------------------

async function loadVocabulary() {
  const result = await api('GET', '/api/process-definitions/vocabulary');
  const lanes = $('vocab-lanes');
  const actions = $('vocab-actions');
  if (!result.ok || !result.data) {
    lanes.replaceChildren(li(`词汇表不可用：${problemText(result)}`, 'error'));
    actions.replaceChildren();
    return;
  }
  lanes.replaceChildren(...(result.data.lanes || []).map((lane) => vocabItem(lane, '', () => applyLane(lane))));
  actions.replaceChildren(...(result.data.actions || []).map((action) => vocabItem(
    action.name,
    [action.description, action.sets && action.sets.length ? `输出变量：${action.sets.join(', ')}` : '']
      .filter(Boolean).join('；'),
    () => applyAction(action.name))));
  $('orglife-actions').replaceChildren(...(result.data.actions || []).map((action) => {
    const option = document.createElement('option');
    option.value = action.name;
    option.label = action.description || action.name;
    return option;
  }));
}

function vocabItem(name, description, apply) {
  const item = document.createElement('li');
  const button = document.createElement('button');
  button.type = 'button';
  button.dataset.value = name;
  button.textContent = name;
  button.addEventListener('click', apply);
  item.append(button);
  if (description) {
    const hint = document.createElement('small');
    hint.textContent = description;
    item.append(hint);
  }
  return item;
}

function selectedOf(type) {
  const selected = modeler.get('selection').get();
  return selected.length === 1 && selected[0].businessObject && selected[0].businessObject.$instanceOf(type)
    ? selected[0] : null;
}

function applyLane(name) {
  const lane = selectedOf('bpmn:Lane');
  if (!lane) {
    status('请先在画布中选中一个泳道。', 'error');
    return;
  }
  modeler.get('modeling').updateLabel(lane, name);
  status(`泳道已改为 ${name}。`, 'info');
}

function applyAction(name) {
  const task = selectedOf('bpmn:UserTask');
  if (!task) {
    status('请先在画布中选中一个用户任务。', 'error');
    return;
  }
  modeler.get('modeling').updateProperties(task, { 'camunda:formKey': name });
  status(`${task.businessObject.name || task.id} 的动作已改为 ${name}。`, 'info');
}

// The properties panel's form key field gets the action names as autocomplete suggestions.
function decoratePanel() {
  const input = document.getElementById('bio-properties-panel-formKey');
  if (input && input.getAttribute('list') !== 'orglife-actions') input.setAttribute('list', 'orglife-actions');
}

// ---- start ---------------------------------------------------------------------------------------------------

window.addEventListener('beforeunload', (event) => {
  if (dirty) {
    event.preventDefault();
    event.returnValue = '';
  }
});
$('login-form').addEventListener('submit', login);
$('logout').addEventListener('click', logout);
if (sessionStorage.getItem(TOKEN_KEY)) {
  enter();
} else {
  showLogin();
}
