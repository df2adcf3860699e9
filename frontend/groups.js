// Hide the properties panel groups for Camunda engine features this product's engine does not run (listeners,
// job execution, connectors, I/O mappings, ...), so admins see lanes, actions, due dates and conditions first.
// Whatever a file already holds there is kept in the XML; only the editor groups are hidden.
const HIDDEN = new Set([
  'CamundaPlatform__ExecutionListener',
  'CamundaPlatform__TaskListener',
  'CamundaPlatform__AsynchronousContinuations',
  'CamundaPlatform__JobExecution',
  'CamundaPlatform__HistoryCleanup',
  'CamundaPlatform__Tasklist',
  'CamundaPlatform__CandidateStarter',
  'CamundaPlatform__ExternalTask',
  'CamundaPlatform__FieldInjection',
  'CamundaPlatform__Input',
  'CamundaPlatform__Output',
  'CamundaPlatform__ConnectorInput',
  'CamundaPlatform__ConnectorOutput'
]);

class HideUnusedGroups {
  constructor(propertiesPanel) {
    propertiesPanel.registerProvider(100, this); // below the BPMN (1000) and Camunda (500) providers: runs last
  }

  getGroups() {
    return (groups) => groups.filter((group) => !HIDDEN.has(group.id));
  }
}
HideUnusedGroups.$inject = ['propertiesPanel'];

export const hideUnusedGroupsModule = {
  __init__: ['orglifeHideUnusedGroups'],
  orglifeHideUnusedGroups: ['type', HideUnusedGroups]
};
