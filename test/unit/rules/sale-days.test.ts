import { describe, expect, it } from 'vitest'
import {
  appendZeros,
  DayTable,
  roomAfter,
  roomAfterCut,
  SaleDays,
  SaleLayout,
} from '../../../rules/engine/window.ts'
import { prng } from '../../../simulator/generator.ts'

/**
 * Rules that kept a DayTable of their approved sales now take columns of the merchant's shared
 * SaleDays: each view must keep, refuse and visit exactly the days its own DayTable did, with the same
 * counters and samples, whatever the other views sharing the rows keep.
 */
describe('SaleDays', () => {
  it.each([[[30, 7, 31, 30]], [[7, 2]], [[1, 30]], [[31]], [[2, 30, 7, 31]]])(
    'views of %j days behave as DayTables of their own on random out-of-order days',
    (sizes) => {
      const rand = prng(sizes.reduce((a, b) => a * 31 + b, 7))
      const rows = new SaleDays()
      const views = sizes.map((size, i) => ({
        size,
        table: new DayTable(size, 2 + i, i % 2 === 0 ? 3 : 0),
        view: rows.columns(size, 2 + i, i % 2 === 0 ? 3 : 0),
        samples: i % 2 === 0,
      }))
      let day = 20_000
      for (let n = 0; n < 4_000; n++) {
        const r = rand()
        const widest = Math.max(...sizes)
        day +=
          r < 0.55
            ? 0
            : r < 0.8
              ? 1
              : r < 0.92
                ? Math.floor(rand() * 2 * widest)
                : -Math.floor(rand() * 2 * widest)
        // The engine creates the row, then each rule finds its offset.
        rows.at(day)
        for (const { table, view, samples } of views) {
          const own = table.at(day)
          const shared = view.at(day)
          expect(shared < 0, `day ${day}`).toBe(own < 0)
          if (own < 0) continue
          const v = Math.floor(rand() * 1_000) / 7
          table.add(own, 0, v)
          view.add(shared, 0, v)
          table.add(own, 1, 1)
          view.add(shared, 1, 1)
          if (samples) {
            table.pushSample(own, `id-${n}`)
            view.pushSample(shared, `id-${n}`)
          }
        }
        for (const { size, table, view } of views) {
          const to = day + Math.floor(rand() * 3) - 1
          const from = to - Math.floor(rand() * (size + 2))
          const seen: [number, number, number, string[]][] = []
          for (let o = table.first(from, to); o >= 0; o = table.next(o, to))
            seen.push([table.dayOf(o), table.get(o, 0), table.get(o, 1), table.samples(o)])
          const visited: [number, number, number, string[]][] = []
          for (let o = view.first(from, to); o >= 0; o = view.next(o, to)) {
            // Days the view keeps without a row of its own hold zeros and add nothing to any window.
            if (view.get(o, 1) === 0) continue
            visited.push([view.dayOf(o), view.get(o, 0), view.get(o, 1), view.samples(o)])
          }
          expect(visited).toEqual(seen)
          expect(view.sum(from, to, 0)).toBe(table.sum(from, to, 0))
          const probe = day - Math.floor(rand() * (size + 1))
          const own = table.peek(probe)
          const shared = view.peek(probe)
          expect(shared < 0 ? 0 : view.get(shared, 1)).toBe(own < 0 ? 0 : table.get(own, 1))
          expect(view.latest).toBe(table.latest)
        }
      }
    },
  )

  it.each([[[30, 7, 31, 30]], [[7, 2]], [[31, 30]]])(
    'sparse views (every other one) of %j days behave as DayTables of their own, with counters on few days',
    (sizes) => {
      const rand = prng(sizes.reduce((a, b) => a * 29 + b, 5))
      const rows = new SaleDays()
      const views = sizes.map((size, i) => ({
        size,
        table: new DayTable(size, 2 + i),
        view: i % 2 === 0 ? rows.sparseColumns(size, 2 + i) : rows.columns(size, 2 + i),
      }))
      const widest = Math.max(...sizes)
      let day = 20_000
      for (let n = 0; n < 4_000; n++) {
        const r = rand()
        day += r < 0.5 ? 0 : r < 0.8 ? 1 : Math.floor(rand() * 2 * widest) - widest
        rows.record(day, 1 + Math.floor(rand() * 1_000))
        for (const { table, view } of views) {
          const own = table.at(day)
          const shared = view.at(day)
          expect(shared < 0, `day ${day}`).toBe(own < 0)
          // Most sales count nothing in a sparse view's columns: its days have no entry.
          if (own < 0 || rand() < 0.7) continue
          const v = Math.floor(rand() * 1_000) / 7
          table.add(own, 0, v)
          view.add(shared, 0, v)
          table.add(own, 1, 1)
          view.add(shared, 1, 1)
          if (rand() < 0.1) {
            table.set(own, 0, 0.25)
            view.set(shared, 0, 0.25)
          }
        }
        for (const { size, table, view } of views) {
          const to = day + Math.floor(rand() * 3) - 1
          const from = to - Math.floor(rand() * (size + 2))
          const seen: number[][] = []
          for (let o = table.first(from, to); o >= 0; o = table.next(o, to))
            if (table.get(o, 1) !== 0) seen.push([table.dayOf(o), table.get(o, 0), table.get(o, 1)])
          const visited: number[][] = []
          for (let o = view.first(from, to); o >= 0; o = view.next(o, to))
            if (view.get(o, 1) !== 0) visited.push([view.dayOf(o), view.get(o, 0), view.get(o, 1)])
          expect(visited).toEqual(seen)
          expect(view.sum(from, to, 0)).toBe(table.sum(from, to, 0))
          const probe = day - Math.floor(rand() * (size + 1))
          const own = table.peek(probe)
          const shared = view.peek(probe)
          expect(shared < 0 ? 0 : view.get(shared, 1)).toBe(own < 0 ? 0 : table.get(own, 1))
        }
      }
      // Entries of the days the rows dropped are gone with them.
      const oldest = rows.cells[0] ?? 0
      for (let i = 0; i < rows.side.length; i++) {
        const key = rows.side[i] ?? 0
        const width = [2, 4][((key % 8) + 8) % 8 === 0 ? 0 : 1] ?? 0
        expect(Math.floor(key / 8)).toBeGreaterThanOrEqual(oldest)
        i += width
      }
    },
  )

  it('refuses a sparse view where another merchant of the engine took a dense one', () => {
    const layout = new SaleLayout()
    new SaleDays(layout).columns(30, 2)
    expect(() => new SaleDays(layout).sparseColumns(30, 2)).toThrow(/different day columns/)
    const other = new SaleLayout()
    new SaleDays(other).sparseColumns(30, 2)
    expect(() => new SaleDays(other).columns(30, 2)).toThrow(/different day columns/)
  })

  it.each([[[30, 7, 31]], [[7, 2]], [[1]]])(
    "the sales and amount the engine counts read, in each view of %j days, as the view's own counters would",
    (sizes) => {
      const rand = prng(sizes.reduce((a, b) => a * 37 + b, 11))
      const rows = new SaleDays()
      const views = sizes.map((size) => ({
        size,
        table: new DayTable(size, 2),
        view: rows.columns(size, 0),
      }))
      let day = 20_000
      for (let n = 0; n < 4_000; n++) {
        const r = rand()
        const widest = Math.max(...sizes)
        day += r < 0.6 ? 0 : r < 0.85 ? 1 : Math.floor(rand() * 2 * widest) - widest
        const amount = 1 + Math.floor(rand() * 100_000)
        rows.record(day, amount)
        // What each rule counted itself before: a sale on every day its own table accepted.
        for (const { table, view } of views) {
          const own = table.at(day)
          expect(view.at(day) < 0).toBe(own < 0)
          if (own < 0) continue
          table.add(own, 0, 1)
          table.add(own, 1, amount)
        }
        for (const { size, table, view } of views) {
          const to = day + Math.floor(rand() * 3) - 1
          const from = to - Math.floor(rand() * (size + 2))
          const seen: number[][] = []
          for (let o = table.first(from, to); o >= 0; o = table.next(o, to))
            seen.push([table.dayOf(o), table.get(o, 0), table.get(o, 1)])
          const visited: number[][] = []
          for (let o = view.first(from, to); o >= 0; o = view.next(o, to))
            visited.push([view.dayOf(o), view.sales(o), view.amount(o)])
          expect(visited).toEqual(seen)
          const probe = day - Math.floor(rand() * (size + 1))
          const shared = view.peek(probe)
          const mine = table.peek(probe)
          expect(shared < 0 ? 0 : view.sales(shared)).toBe(mine < 0 ? 0 : table.get(mine, 0))
        }
        // The count of all kept rows' sales, against the rows themselves.
        let kept = 0
        for (let o = 0; o < rows.cells.length; o += rows.stride) kept += rows.cells[o + 1] ?? 0
        expect(rows.keptSales).toBe(kept)
        for (const { view } of views) expect(view.keptSales).toBe(kept)
      }
    },
  )

  it('keeps the samples of at most 16 views, each per day apart from the others', () => {
    const rows = new SaleDays()
    const views = Array.from({ length: 16 }, () => rows.columns(30, 0, 2))
    expect(() => rows.columns(30, 0, 1)).toThrow(/at most 16/)
    // Views without samples are not counted.
    rows.columns(30, 1)
    for (const day of [100, 101]) {
      rows.at(day)
      views.forEach((v, i) => {
        for (const n of [1, 2, 3]) v.pushSample(v.at(day), `${day}-${i}-${n}`)
      })
    }
    views.forEach((v, i) => {
      for (const day of [100, 101]) expect(v.samples(v.at(day))).toEqual([`${day}-${i}-2`, `${day}-${i}-3`])
    })
  })

  it("drops a view's samples of the days it keeps no longer, while the rows stay for a wider view", () => {
    const rows = new SaleDays()
    const month = rows.columns(30, 1)
    const week = rows.columns(7, 0, 5)
    for (const day of [100, 101]) {
      rows.at(day)
      week.pushSample(week.at(day), `id-${day}`)
    }
    // A sample's key is its day times 16 plus its view's index among the views that keep samples (0).
    expect(rows.samples(100 * 16)).toEqual(['id-100'])
    rows.at(107)
    // Day 100 is out of the week (107 - 7) and its id is gone; 101 is still in it.
    expect(week.at(100)).toBe(-1)
    expect(rows.samples(100 * 16)).toEqual([])
    expect(rows.samples(101 * 16)).toEqual(['id-101'])
    expect(week.samples(week.at(101))).toEqual(['id-101'])
    // The month's view still has the row of day 100.
    expect(month.at(100)).toBeGreaterThanOrEqual(0)
    rows.at(108)
    expect(rows.samples(101 * 16)).toEqual([])
  })

  it('refuses columns taken after the first row', () => {
    const rows = new SaleDays()
    rows.columns(30, 2)
    rows.at(100)
    expect(() => rows.columns(7, 1)).toThrow(/before the first row/)
  })

  it('clears the samples of a day without touching its counters or another view', () => {
    const rows = new SaleDays()
    const a = rows.columns(3, 1, 2)
    const b = rows.columns(3, 1, 2)
    rows.at(100)
    const oa = a.at(100)
    const ob = b.at(100)
    a.add(oa, 0, 5)
    for (const id of ['a1', 'a2', 'a3']) a.pushSample(oa, id)
    b.pushSample(ob, 'b1')
    expect(a.samples(oa)).toEqual(['a2', 'a3'])
    a.clearSamples(oa)
    expect(a.samples(oa)).toEqual([])
    expect(a.get(oa, 0)).toBe(5)
    expect(b.samples(ob)).toEqual(['b1'])
  })

  it("serves every merchant of a layout with the same views, reading the bound merchant's rows", () => {
    const layout = new SaleLayout()
    const a = new SaleDays(layout)
    const viewA = a.columns(30, 2)
    layout.current = a
    a.at(100)
    viewA.add(viewA.at(100), 0, 7)
    // A merchant created later gets the same view, over rows of its own.
    const b = new SaleDays(layout)
    const viewB = b.columns(30, 2)
    expect(viewB).toBe(viewA)
    layout.current = b
    b.at(100)
    expect(viewB.get(viewB.at(100), 0)).toBe(0)
    viewB.add(viewB.at(100), 0, 3)
    layout.current = a
    expect(viewA.get(viewA.at(100), 0)).toBe(7)
    expect(() => new SaleDays(layout).columns(7, 2)).toThrow(/different day columns/)
  })

  it('appendZeros appends rows as push would, moving them to a new array only when the room is used up', () => {
    const rand = prng(5)
    let cells = [0.5]
    cells.length = 0
    let room = 0
    const same: number[] = []
    let copies = 0
    let appends = 0
    for (let n = 0; n < 2_000; n++) {
      if (rand() < 0.1 && cells.length > 0) {
        const keep = 4 * Math.floor(rand() * (cells.length / 4))
        cells.length = keep
        same.length = keep
        room = roomAfterCut(keep, room)
        continue
      }
      const grown = appendZeros(cells, 4, room)
      appends++
      if (grown !== cells) {
        copies++
        expect(cells.length + 4).toBeGreaterThan(room)
        room = roomAfter(grown.length, 4)
        cells = grown
      }
      for (let i = 0; i < 4; i++) same.push(0)
      const v = n + 0.25
      cells[cells.length - 1] = v
      same[same.length - 1] = v
      expect(cells).toEqual(same)
    }
    // A quarter more rows (at least one) each time, and cuts that may leave a store under half used.
    expect(copies).toBeLessThan(appends / 3)
  })

  it.each([[[2, 2, 4]], [[1, 3]], [[8]]])(
    'short day rings of %j days answer as DayTables of their own on random out-of-order days',
    (sizes) => {
      const rand = prng(sizes.reduce((a, b) => a * 41 + b, 3))
      const layout = new SaleLayout()
      const merchants = [0, 1].map(() => {
        const rows = new SaleDays(layout)
        return {
          rows,
          rings: sizes.map((size, i) => ({
            size,
            table: new DayTable(size, 1 + i),
            ring: rows.short(size, 1 + i),
          })),
        }
      })
      // Every merchant gets the same views, over a store of its own.
      expect(merchants[1]?.rings.map((r) => r.ring)).toEqual(merchants[0]?.rings.map((r) => r.ring))
      let day = 20_000
      for (let n = 0; n < 4_000; n++) {
        const r = rand()
        day += r < 0.5 ? 0 : r < 0.8 ? 1 : Math.floor(rand() * 12) - 6
        const m = merchants[Math.floor(rand() * merchants.length)]
        if (m === undefined) throw new Error('no merchant')
        layout.current = m.rows
        for (const { size, table, ring } of m.rings) {
          expect(ring.latest).toBe(table.latest)
          const own = table.at(day)
          const short = ring.at(day)
          expect(short < 0, `day ${day}`).toBe(own < 0)
          if (own >= 0) {
            const v = Math.floor(rand() * 1_000) / 8
            table.add(own, 0, v)
            ring.add(short, 0, v)
            if (rand() < 0.1) {
              table.set(own, 0, 1)
              ring.set(short, 0, 1)
            }
          }
          const to = day + Math.floor(rand() * 4) - 2
          const from = to - Math.floor(rand() * (size + 2))
          const seen: number[][] = []
          for (let o = table.first(from, to); o >= 0; o = table.next(o, to))
            seen.push([table.dayOf(o), table.get(o, 0)])
          const visited: number[][] = []
          for (let o = ring.first(from, to); o >= 0; o = ring.next(o, to))
            visited.push([ring.dayOf(o), ring.get(o, 0)])
          expect(visited).toEqual(seen)
          expect(ring.sum(from, to, 0)).toBe(table.sum(from, to, 0))
          const probe = day - Math.floor(rand() * (size + 2)) + 1
          const p = table.peek(probe)
          const q = ring.peek(probe)
          expect(q < 0).toBe(p < 0)
          if (p >= 0) expect(ring.get(q, 0)).toBe(table.get(p, 0))
        }
      }
    },
  )
})
