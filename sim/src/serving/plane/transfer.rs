//! Tensors travelling from a finished batch to the next partition, at the transport's cost.

use super::{Context, DataPlane};
use crate::engines::Work;
use crate::event::PlaneEvent;
use crate::metrics::{DropReason, StageTimes};
use crate::serving::state::TransferState;
use crate::serving::transport::TransportKind;
use crate::time::SimDuration;

impl DataPlane {
    /// Moves the output tensors of a finished batch to `to_partition`. Under zero-copy only
    /// tokens travel (`token_fault`: a region had to be allocated for one of them).
    pub(super) fn start_transfer(
        &mut self,
        ctx: &mut Context<'_>,
        from_partition: u32,
        requests: Vec<u32>,
        to_partition: u32,
        token_fault: bool,
    ) {
        let now = ctx.now();
        let cost = if self.transport_kind == TransportKind::ZeroCopy {
            self.transport.token_cost(self.control_path, token_fault)
        } else {
            let bytes: u64 = requests
                .iter()
                .map(|&r| self.requests.get(r).buffer_bytes)
                .sum();
            self.transport
                .cost(self.transport_kind, bytes, &self.device)
        };
        if cost.extra_buffer_bytes > 0 && self.memory.allocate(cost.extra_buffer_bytes).is_err() {
            for r in requests {
                self.drop_request(ctx, r, DropReason::OutOfMemory);
            }
            return;
        }
        self.record_memory(ctx);
        for &r in &requests {
            self.requests.get_mut(r).handed_off = now;
        }
        self.partitions[to_partition as usize].inbound += requests.len() as u32;
        let transfer = self.transfers.insert(TransferState {
            requests,
            from_partition,
            to_partition,
            extra_buffer_bytes: cost.extra_buffer_bytes,
            fixed_ns: cost.fixed_ns,
        });
        if cost.work_ns > 0 {
            ctx.engines
                .start_copy(now, cost.work_ns, cost.mem_bytes, Work::Transfer(transfer));
            let cpu = ctx.engines.cpu();
            ctx.engines.occupy(now, cpu, 1.0, ctx.recorder);
        } else {
            self.transfer_work_done(ctx, transfer);
        }
    }

    /// The CPU work of a transfer finished on the engines.
    pub fn on_transfer_work_done(&mut self, ctx: &mut Context<'_>, transfer: u32) {
        let cpu = ctx.engines.cpu();
        ctx.engines.occupy(ctx.now(), cpu, -1.0, ctx.recorder);
        self.transfer_work_done(ctx, transfer);
    }

    fn transfer_work_done(&mut self, ctx: &mut Context<'_>, transfer: u32) {
        let fixed = self.transfers.get(transfer).fixed_ns;
        if fixed > 0 {
            let at = ctx.now() + SimDuration::from_ns(fixed);
            self.schedule(ctx, at, PlaneEvent::TransferFixedDone { transfer });
        } else {
            self.end_transfer(ctx, transfer);
        }
    }

    pub(super) fn end_transfer(&mut self, ctx: &mut Context<'_>, transfer: u32) {
        let now = ctx.now();
        let TransferState {
            mut requests,
            from_partition,
            to_partition,
            extra_buffer_bytes,
            ..
        } = self.transfers.remove(transfer);
        self.memory.release(extra_buffer_bytes);
        self.record_memory(ctx);
        let from = from_partition as usize;
        for &r in &requests {
            let req = *self.requests.get(r);
            ctx.recorder.stage(
                from,
                StageTimes {
                    queue: req.exec_start - req.enqueued,
                    exec: req.exec_end - req.exec_start,
                    blocked: req.handed_off - req.exec_end,
                    transfer: now - req.handed_off,
                },
            );
            // Its room stays taken until it is in a queue (routing one request may start a
            // batch that lets a blocked producer look for room).
            self.partitions[to_partition as usize].inbound -= 1;
            self.route(ctx, r, to_partition);
        }
        requests.clear();
        self.vec_pool.push(requests);
        if self.partitions[to_partition as usize].retired.is_some() {
            self.finish_if_drained(ctx, to_partition);
        }
    }
}
