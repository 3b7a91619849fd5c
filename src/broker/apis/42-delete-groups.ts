// DeleteGroups (42), v0–2: removes empty groups and their committed offsets (tombstones
// in __consumer_offsets, answered once durable). A group with members: NON_EMPTY_GROUP;
// an unknown one: GROUP_ID_NOT_FOUND; another broker's: NOT_COORDINATOR.
import type { ErrorCode } from '../../protocol/errors.ts';
import { DeleteGroups } from '../../protocol/messages/42-delete-groups.ts';
import { groupCoordinatorOf, type CoordinatedPartition } from '../groups/coordinator.ts';
import { defineHandler } from '../registry.ts';

export const deleteGroupsHandler = defineHandler({
  api: DeleteGroups,
  minVersion: 0,
  maxVersion: 2,
  async handle(ctx, req) {
    const coordinator = groupCoordinatorOf(ctx.broker);
    const results = new Map<string, ErrorCode>();
    const byPartition = new Map<CoordinatedPartition, string[]>();
    for (const groupId of req.groupsNames) {
      const routed = coordinator.route(groupId, true);
      if (!routed.ok) {
        results.set(groupId, routed.errorCode);
        continue;
      }
      const ids = byPartition.get(routed.partition) ?? [];
      ids.push(groupId);
      byPartition.set(routed.partition, ids);
    }
    const deleted = await Promise.all([...byPartition].map(([p, ids]) => p.deleteGroups(ids)));
    for (const m of deleted) for (const [id, code] of m) results.set(id, code);
    const seen = new Set<string>();
    const answers = req.groupsNames.filter((id) => !seen.has(id) && seen.add(id)).map((groupId) => ({ groupId, errorCode: results.get(groupId) ?? 0 }));
    return { throttleTimeMs: 0, results: answers };
  },
});
