// The timeline's sentences in each language the console speaks. Codes (event types, stage and template keys, policy
// reasons, outcomes) stay as they are in both: they are what a reader searches the definition and the logs for.
export const TIMELINE_LANGS = ['en', 'zh-CN'] as const;
export type TimelineLang = (typeof TIMELINE_LANGS)[number];

export interface TimelineWords {
  event(type: string, deliveredTo: number): string;
  started(stage: string): string;
  stage(from: string, to: string, cause: string | null): string;
  branch(step: string, flow: string): string;
  tookCase(where: string, c: string, when: string, values: string): string;
  noCase(where: string, otherwise: boolean, values: string): string;
  split(split: string, variant: string): string;
  holdout(cohort: string, source?: string, percent?: string): string;
  goal(goal: string): string;
  task(taskKey: string): string;
  heldOut(what: string): string;
  feedback(survey: string, score: string): string;
  failure(code: string): string;
  /** The journey moved to another version of its definition (a migration), from and to its stage (renamed or not). */
  migrated(from: string, to: string, stageFrom: string, stageTo: string): string;
  /** A migration asked the journey to move, and the engine refused: it stays on its version. */
  migrationRefused(from: string, to: string, code: string): string;
  cancelledBy(flow: string): string;
  stageLeft(stage: string, to: string): string;
  journeyEnded(reason: string): string;
  flowReplaced(event: string): string;
  notSent(what: string, flow: string, why: string): string;
  then: string;
  taskCreated(taskKey: string, rmId: string | null, title: string, due: string): string;
  taskEscalated(taskKey: string, to: string | null): string;
  taskDone(taskKey: string, outcome: string | null): string;
  ended(journeyKey: string, status: string, reason: string | null, stage: string): string;
}

const en: TimelineWords = {
  event: (type, n) => `event ${type} received${n ? ` (delivered to ${n} journey${n > 1 ? 's' : ''})` : ''}`,
  started: (stage) => `journey started in stage ${stage}`,
  stage: (from, to, cause) => `stage ${from} → ${to}${cause ? ` (${cause})` : ''}`,
  branch: (step, flow) => `branch ${step} in flow ${flow}`,
  tookCase: (where, c, when, values) => `${where}: took case ${c} because ${when}${values}`,
  noCase: (where, otherwise, values) => `${where}: no case held${otherwise ? ', took otherwise' : ', went on'}${values}`,
  split: (split, variant) => `A/B split ${split}: variant ${variant}`,
  holdout: (cohort, source, percent) => `holdout: ${cohort}${source !== undefined ? ` (${source}${percent !== undefined ? `, ${percent} %` : ''})` : ''}`,
  goal: (goal) => `goal reached: ${goal}`,
  task: (taskKey) => `task ${taskKey}`,
  heldOut: (what) => `not sent: ${what} — held out (control cohort)`,
  feedback: (survey, score) => `feedback ${survey} answered: ${score}`,
  failure: (code) => `journey failed in the engine: ${code}`,
  migrated: (from, to, stageFrom, stageTo) => `moved from version ${from} to version ${to}${stageFrom === stageTo ? `, in stage ${stageTo}` : `, stage ${stageFrom} → ${stageTo}`}`,
  migrationRefused: (from, to, code) => `stayed on version ${from}: the move to version ${to} was refused (${code})`,
  cancelledBy: (flow) => `cancelled by flow ${flow}`,
  stageLeft: (stage, to) => `stage ${stage} left for ${to}`,
  journeyEnded: (reason) => `journey ended (${reason})`,
  flowReplaced: (event) => `flow restarted by ${event}`,
  notSent: (what, flow, why) => `not sent: ${what} — flow ${flow} stopped: ${why}`,
  then: ', then ',
  taskCreated: (taskKey, rmId, title, due) => `task ${taskKey} for ${rmId ?? 'no RM'}: ${title}, due ${due}`,
  taskEscalated: (taskKey, to) => `task ${taskKey} still open at its due time: escalated to ${to ?? '?'}`,
  taskDone: (taskKey, outcome) => `task ${taskKey} done: ${outcome ?? 'no outcome'}`,
  ended: (journeyKey, status, reason, stage) => `journey ${journeyKey} ${status}${reason ? ` (${reason})` : ''} in stage ${stage}`,
};

const zh: TimelineWords = {
  event: (type, n) => `收到事件 ${type}${n ? `（送达 ${n} 个旅程）` : ''}`,
  started: (stage) => `旅程开始，阶段 ${stage}`,
  stage: (from, to, cause) => `阶段 ${from} → ${to}${cause ? `（${cause}）` : ''}`,
  branch: (step, flow) => `流程 ${flow} 的分支 ${step}`,
  tookCase: (where, c, when, values) => `${where}：走了分支 ${c}，因为 ${when}${values}`,
  noCase: (where, otherwise, values) => `${where}：没有分支条件成立${otherwise ? '，走了 otherwise' : '，继续执行'}${values}`,
  split: (split, variant) => `A/B 分流 ${split}：变体 ${variant}`,
  holdout: (cohort, source, percent) => `对照组分配：${cohort}${source !== undefined ? `（${source}${percent !== undefined ? `，${percent} %` : ''}）` : ''}`,
  goal: (goal) => `达成目标：${goal}`,
  task: (taskKey) => `任务 ${taskKey}`,
  heldOut: (what) => `未发送：${what}——对照组（不触达）`,
  feedback: (survey, score) => `${survey} 调研已作答：${score}`,
  failure: (code) => `旅程在引擎中失败：${code}`,
  migrated: (from, to, stageFrom, stageTo) => `已从版本 ${from} 迁移到版本 ${to}${stageFrom === stageTo ? `，阶段 ${stageTo}` : `，阶段 ${stageFrom} → ${stageTo}`}`,
  migrationRefused: (from, to, code) => `仍在版本 ${from}：迁移到版本 ${to} 被拒绝（${code}）`,
  cancelledBy: (flow) => `被流程 ${flow} 取消`,
  stageLeft: (stage, to) => `已离开阶段 ${stage}，进入 ${to}`,
  journeyEnded: (reason) => `旅程已结束（${reason}）`,
  flowReplaced: (event) => `流程被 ${event} 重新开始`,
  notSent: (what, flow, why) => `未发送：${what}——流程 ${flow} 已停止：${why}`,
  then: '，随后 ',
  taskCreated: (taskKey, rmId, title, due) => `任务 ${taskKey} 分配给 ${rmId ?? '（无客户经理）'}：${title}，截止 ${due}`,
  taskEscalated: (taskKey, to) => `任务 ${taskKey} 到期仍未完成：已升级给 ${to ?? '?'}`,
  taskDone: (taskKey, outcome) => `任务 ${taskKey} 已完成：${outcome ?? '无结果'}`,
  ended: (journeyKey, status, reason, stage) => `旅程 ${journeyKey} ${status}${reason ? `（${reason}）` : ''}，结束于阶段 ${stage}`,
};

export const TIMELINE_WORDS = { en, 'zh-CN': zh } satisfies Record<TimelineLang, TimelineWords>;
