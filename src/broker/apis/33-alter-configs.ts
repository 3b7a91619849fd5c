// AlterConfigs (33), v0–2: replaces a topic's config overrides with the given set (Kafka's
// non-incremental semantics). Broker configs are static in floe: refused.
import { ErrorCode, errorName } from '../../protocol/errors.ts';
import { AlterConfigs } from '../../protocol/messages/33-alter-configs.ts';
import { kafkaCodeOf, messageOf } from '../errors.ts';
import { defineHandler } from '../registry.ts';
import { ResourceType } from './32-describe-configs.ts';

export const alterConfigsHandler = defineHandler({
  api: AlterConfigs,
  minVersion: 0,
  maxVersion: 2,
  async handle(ctx, req) {
    const responses = await Promise.all(
      req.resources.map(async (r) => {
        const base = { resourceType: r.resourceType, resourceName: r.resourceName };
        if (r.resourceType !== ResourceType.TOPIC) {
          return { ...base, errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'only topic configs can be altered; broker settings are given at start' };
        }
        const nullValue = r.configs.find((c) => c.value === null);
        if (nullValue) return { ...base, errorCode: ErrorCode.INVALID_CONFIG, errorMessage: `config ${nullValue.name} has a null value` };
        try {
          const config = Object.fromEntries(r.configs.map((c) => [c.name, c.value ?? '']));
          const res = await ctx.broker.metadata.alterTopicConfig(r.resourceName, config, req.validateOnly);
          return { ...base, errorCode: res.errorCode, errorMessage: res.errorCode === ErrorCode.NONE ? null : (res.errorMessage ?? errorName(res.errorCode)) };
        } catch (err) {
          return { ...base, errorCode: kafkaCodeOf(err), errorMessage: messageOf(err) };
        }
      }),
    );
    return { throttleTimeMs: 0, responses };
  },
});
