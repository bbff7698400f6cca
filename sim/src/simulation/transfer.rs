//! Tensor transport between partitions.

use super::*;

impl Simulation {
    /// Moves the output tensors of a finished batch to `to_partition`. Under zero-copy only
    /// tokens travel (`token_fault`: a region had to be allocated for one of them).
    pub(super) fn start_transfer(
        &mut self,
        requests: Vec<u32>,
        to_partition: u32,
        token_fault: bool,
    ) {
        let now = self.now();
        let cost = if self.transport_kind == TransportKind::ZeroCopy {
            self.transport.token_cost(self.control_path, token_fault)
        } else {
            let bytes: u64 = requests
                .iter()
                .map(|&r| self.requests.get(r).buffer_bytes)
                .sum();
            self.transport
                .cost(self.transport_kind, bytes, &self.scenario.device)
        };
        if cost.extra_buffer_bytes > 0 && self.memory.allocate(cost.extra_buffer_bytes).is_err() {
            for r in requests {
                self.drop_request(r, DropReason::OutOfMemory);
            }
            return;
        }
        self.recorder.memory(now, self.memory.used_bytes());
        let transfer = self.transfers.insert(TransferState {
            requests,
            to_partition,
            extra_buffer_bytes: cost.extra_buffer_bytes,
            fixed_ns: cost.fixed_ns,
        });
        if cost.work_ns > 0 {
            let cpu = self.cpu_index();
            let work = cost.work_ns as f64;
            let consumption = [
                (cpu, 1.0),
                (self.bandwidth_resource, cost.mem_bytes as f64 / work),
            ];
            let id = self.fluid.start(now, work, 1.0, &consumption);
            self.occupy(cpu, 1.0);
            self.owners.insert(id, ActivityOwner::Transfer(transfer));
            self.fluid_dirty = true;
        } else {
            self.transfer_work_done(transfer);
        }
    }

    pub(super) fn cpu_index(&self) -> usize {
        self.scenario
            .device
            .accelerators
            .iter()
            .position(|a| a.kind == AcceleratorKind::Cpu)
            .unwrap_or(0)
    }

    pub(super) fn transfer_work_done(&mut self, transfer: u32) {
        let fixed = self.transfers.get(transfer).fixed_ns;
        if fixed > 0 {
            let at = self.now() + SimDuration::from_ns(fixed);
            self.events
                .schedule(at, Event::TransferFixedDone { transfer });
        } else {
            self.end_transfer(transfer);
        }
    }

    pub(super) fn end_transfer(&mut self, transfer: u32) {
        let now = self.now();
        let TransferState {
            mut requests,
            to_partition,
            extra_buffer_bytes,
            ..
        } = self.transfers.remove(transfer);
        self.memory.release(extra_buffer_bytes);
        self.recorder.memory(now, self.memory.used_bytes());
        let from = (to_partition - 1) as usize;
        for &r in &requests {
            let req = *self.requests.get(r);
            self.recorder.stage(
                from,
                req.exec_start - req.enqueued,
                req.exec_end - req.exec_start,
                now - req.exec_end,
            );
            self.route(r, to_partition);
        }
        requests.clear();
        self.vec_pool.push(requests);
    }
}
