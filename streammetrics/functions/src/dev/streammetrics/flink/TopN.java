package dev.streammetrics.flink;

import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.functions.AggregateFunction;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * SM_TOP_N(value, n): the n most frequent non-NULL values of a group, most frequent first; equal
 * counts in ascending order of the value's code points (the byte order of UTF-8, which is how Flink
 * and Trino order strings). An empty array when the group has no non-NULL value.
 *
 * <p>Used inside the window aggregation, next to the model's other metrics, instead of a separate
 * count -> window Top-N -> list -> window join pipeline per model. The accumulator is a
 * MAP&lt;STRING, BIGINT&gt; of counts (plus n), so it is part of checkpoints and savepoints like
 * any built-in aggregate.
 */
public class TopN extends AggregateFunction<String[], TopN.Counts> {

    /** The accumulator: how often each value occurred, and how many values to return. */
    public static class Counts {
        public Map<String, Long> counts = new HashMap<>();
        public int n;
    }

    @Override
    public Counts createAccumulator() {
        return new Counts();
    }

    public void accumulate(Counts acc, String value, Integer n) {
        if (n != null) {
            acc.n = n;
        }
        if (value != null) {
            acc.counts.merge(value, 1L, Long::sum);
        }
    }

    public void merge(Counts acc, Iterable<Counts> others) {
        for (Counts other : others) {
            acc.n = Math.max(acc.n, other.n);
            for (Map.Entry<String, Long> e : other.counts.entrySet()) {
                acc.counts.merge(e.getKey(), e.getValue(), Long::sum);
            }
        }
    }

    @Override
    @DataTypeHint("ARRAY<STRING>")
    public String[] getValue(Counts acc) {
        List<Map.Entry<String, Long>> entries = new ArrayList<>(acc.counts.entrySet());
        entries.sort((a, b) -> {
            int byCount = Long.compare(b.getValue(), a.getValue());
            return byCount != 0 ? byCount : compareCodePoints(a.getKey(), b.getKey());
        });
        int size = Math.min(acc.n, entries.size());
        String[] top = new String[size];
        for (int i = 0; i < size; i++) {
            top[i] = entries.get(i).getKey();
        }
        return top;
    }

    static int compareCodePoints(String a, String b) {
        int i = 0;
        while (i < a.length() && i < b.length()) {
            int ca = a.codePointAt(i);
            int cb = b.codePointAt(i);
            if (ca != cb) {
                return Integer.compare(ca, cb);
            }
            i += Character.charCount(ca);
        }
        return Integer.compare(a.length(), b.length());
    }
}
