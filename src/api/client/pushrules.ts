// Push rules (matrix-spec: pushrules.yaml).
import { invalidParam } from '../../errors.js';
import { deleteRule, findRule, setActions, setEnabled, upsertRule, validateRuleBody } from '../../core/push/edit.js';
import { isRuleKind, type RuleKind } from '../../core/push/types.js';
import { authOf } from '../../http/auth.js';
import type { RouteDef } from '../../http/routes.js';
import { objectBody, queryString } from '../../http/validate.js';
import type { Services } from '../../services.js';

function kindOf(params: Record<string, unknown>): RuleKind {
  if (!isRuleKind(params.kind)) throw invalidParam(`Unknown push rule kind ${String(params.kind)}`);
  return params.kind;
}

export function pushRuleRoutes(services: Services): RouteDef[] {
  const { push } = services;
  const rule = (p: Record<string, unknown>) => p.ruleId as string;
  return [
    {
      // GET /_matrix/client/v3/pushrules/ (matrix-spec: pushrules.yaml#getPushRules)
      method: 'get', path: '/v3/pushrules{/}', r0: true,
      handler: async (_req, res) => {
        res.json(await push.getRules(authOf(res).userId));
      },
    },
    {
      // GET /_matrix/client/v3/pushrules/global/ (matrix-spec: pushrules.yaml#getPushRulesGlobal)
      method: 'get', path: '/v3/pushrules/global{/}', r0: true,
      handler: async (_req, res) => {
        res.json((await push.getRules(authOf(res).userId)).global);
      },
    },
    {
      // GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId} (matrix-spec: pushrules.yaml#getPushRule)
      method: 'get', path: '/v3/pushrules/global/:kind/:ruleId', r0: true,
      handler: async (req, res) => {
        const kind = kindOf(req.params);
        res.json(findRule(await push.getRules(authOf(res).userId), kind, rule(req.params)));
      },
    },
    {
      // PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId} (matrix-spec: pushrules.yaml#setPushRule)
      method: 'put', path: '/v3/pushrules/global/:kind/:ruleId', r0: true,
      handler: async (req, res) => {
        const me = authOf(res);
        const kind = kindOf(req.params);
        const newRule = validateRuleBody(kind, rule(req.params), objectBody(req.body));
        const before = queryString(req.query, 'before');
        const after = queryString(req.query, 'after');
        await push.update(me.userId, (rules) => upsertRule(rules, kind, rule(req.params), newRule, {
          ...(before !== undefined ? { before } : {}), ...(after !== undefined ? { after } : {}),
        }));
        res.json({});
      },
    },
    {
      // DELETE /_matrix/client/v3/pushrules/global/{kind}/{ruleId} (matrix-spec: pushrules.yaml#deletePushRule)
      method: 'delete', path: '/v3/pushrules/global/:kind/:ruleId', r0: true,
      handler: async (req, res) => {
        const me = authOf(res);
        const kind = kindOf(req.params);
        await push.update(me.userId, (rules) => deleteRule(rules, kind, rule(req.params)));
        res.json({});
      },
    },
    ...(['enabled', 'actions'] as const).flatMap((attr): RouteDef[] => [
      {
        // GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/enabled (matrix-spec: pushrules.yaml#isPushRuleEnabled)
        // GET /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/actions (matrix-spec: pushrules.yaml#getPushRuleActions)
        method: 'get', path: `/v3/pushrules/global/:kind/:ruleId/${attr}`, r0: true,
        handler: async (req, res) => {
          const kind = kindOf(req.params);
          const r = findRule(await push.getRules(authOf(res).userId), kind, rule(req.params));
          res.json(attr === 'enabled' ? { enabled: r.enabled } : { actions: r.actions });
        },
      },
      {
        // PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/enabled (matrix-spec: pushrules.yaml#setPushRuleEnabled)
        // PUT /_matrix/client/v3/pushrules/global/{kind}/{ruleId}/actions (matrix-spec: pushrules.yaml#setPushRuleActions)
        method: 'put', path: `/v3/pushrules/global/:kind/:ruleId/${attr}`, r0: true,
        handler: async (req, res) => {
          const me = authOf(res);
          const kind = kindOf(req.params);
          const b = objectBody(req.body);
          await push.update(me.userId, (current) => (attr === 'enabled'
            ? setEnabled(current, kind, rule(req.params), b.enabled)
            : setActions(current, kind, rule(req.params), b.actions)));
          res.json({});
        },
      },
    ]),
  ];
}
