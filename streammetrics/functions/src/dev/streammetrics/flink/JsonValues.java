package dev.streammetrics.flink;

import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonFactory;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonParser;
import org.apache.flink.shaded.jackson2.com.fasterxml.jackson.core.JsonToken;
import org.apache.flink.table.annotation.DataTypeHint;
import org.apache.flink.table.data.ArrayData;
import org.apache.flink.table.data.GenericArrayData;
import org.apache.flink.table.data.StringData;
import org.apache.flink.table.functions.ScalarFunction;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * SM_JSON_VALUES(json, '$.a', '$.b.c', ...): the values of several JSON paths of one JSON string,
 * parsed once; element i is what JSON_VALUE(json, path i) returns.
 *
 * <p>Same semantics as Flink's JSON_VALUE (lax mode, NULL ON EMPTY, NULL ON ERROR), which reads
 * the string with Jackson into maps (floats as BigDecimal) and returns the scalar's toString():
 * a document that does not parse gives NULL for every path; an object or array value gives NULL;
 * a duplicated key keeps its last value; text after the first JSON value is ignored. Paths are
 * `$` followed by `.name` steps (names of letters, digits and underscores). The compiler rewrites
 * JSON_VALUE calls on one column into one call of this function, so a JSON column is parsed once
 * per event instead of once per path; calls on an unchanged input return the previous result.
 */
public class JsonValues extends ScalarFunction {

    private static final JsonFactory FACTORY = new JsonFactory();

    /** A step of the path tree: the paths ending here and the steps below. */
    private static final class Step {
        final List<Integer> ends = new ArrayList<>();
        final Map<String, Step> children = new HashMap<>();
        final List<Integer> below = new ArrayList<>(); // every path ending at or under this step
    }

    private transient String[] paths;
    private transient Step root;
    private transient byte[][] rootNames;
    private transient Step[] rootSteps;
    private transient StringData lastInput;
    private transient ArrayData lastResult;

    @DataTypeHint(value = "ARRAY<STRING>", bridgedTo = ArrayData.class)
    public ArrayData eval(
            @DataTypeHint(value = "STRING", bridgedTo = StringData.class) StringData json, String... paths) {
        if (this.paths == null || !Arrays.equals(this.paths, paths)) {
            compile(paths);
            lastInput = null;
        }
        if (lastInput != null && (json == lastInput || (json != null && json.equals(lastInput)))) {
            return lastResult;
        }
        Object[] values = new Object[paths.length];
        lastInput = null;
        if (json != null) {
            byte[] bytes = json.toBytes();
            if (!fastScan(bytes, values)) {
                Arrays.fill(values, null);
                try (JsonParser parser = FACTORY.createParser(json.toString())) { // as JSON_VALUE reads it
                    if (parser.nextToken() == JsonToken.START_OBJECT) { // anything else: every path is empty
                        readObject(parser, root, values);
                    }
                } catch (Exception e) {
                    Arrays.fill(values, null); // JSON_VALUE: NULL ON ERROR
                }
            }
            lastInput = StringData.fromBytes(bytes); // our own copy: the input's memory may be reused
        }
        lastResult = new GenericArrayData(values);
        return lastResult;
    }

    /**
     * The common case without Jackson: one object of ASCII keys and scalar values (strings without
     * escapes, integers of up to 18 digits, true, false, null). Returns false, with `values` in any
     * state, at the first thing it does not read exactly as JSON_VALUE would (escapes, non-ASCII,
     * fractions, exponents, nested values, anything malformed); the caller then parses with Jackson.
     */
    private boolean fastScan(byte[] b, Object[] values) {
        int n = b.length;
        int i = skipSpace(b, 0);
        if (i >= n || b[i] != '{') {
            return false;
        }
        i = skipSpace(b, i + 1);
        if (i < n && b[i] == '}') {
            return true;
        }
        while (true) {
            if (i >= n || b[i] != '"') {
                return false;
            }
            int keyStart = i + 1;
            int keyEnd = plainStringEnd(b, keyStart);
            if (keyEnd < 0) {
                return false;
            }
            i = skipSpace(b, keyEnd + 1);
            if (i >= n || b[i] != ':') {
                return false;
            }
            i = skipSpace(b, i + 1);
            if (i >= n) {
                return false;
            }
            int valueStart = i;
            Object value;
            byte c = b[i];
            if (c == '"') {
                int end = plainStringEnd(b, i + 1);
                if (end < 0) {
                    return false;
                }
                value = STRING;
                i = end + 1;
            } else if (c == '-' || (c >= '0' && c <= '9')) {
                int j = c == '-' ? i + 1 : i;
                int digitsStart = j;
                while (j < n && b[j] >= '0' && b[j] <= '9') {
                    j++;
                }
                int digits = j - digitsStart;
                if (digits == 0 || digits > 18 || (b[digitsStart] == '0' && digits > 1)
                        || (c == '-' && digits == 1 && b[digitsStart] == '0')
                        || (j < n && !isDelimiter(b[j]))) {
                    return false; // fractions, exponents, -0, leading zeros, long numbers: Jackson
                }
                value = NUMBER;
                i = j;
            } else if (matches(b, i, TRUE)) {
                value = "true";
                i += 4;
            } else if (matches(b, i, FALSE)) {
                value = "false";
                i += 5;
            } else if (matches(b, i, NULL)) {
                value = null;
                i += 4;
            } else {
                return false; // objects, arrays, anything else
            }
            Step child = rootChild(b, keyStart, keyEnd);
            if (child != null) {
                for (int k : child.below) {
                    values[k] = null;
                }
                Object data = null;
                if (value == STRING) { // a view of `b`, which is this call's own copy and never changes
                    data = StringData.fromBytes(b, valueStart + 1, i - 1 - (valueStart + 1));
                } else if (value == NUMBER) {
                    data = StringData.fromBytes(b, valueStart, i - valueStart);
                } else if (value != null) {
                    data = StringData.fromString((String) value);
                }
                for (int k : child.ends) {
                    values[k] = data;
                }
            }
            i = skipSpace(b, i);
            if (i >= n) {
                return false;
            }
            if (b[i] == '}') {
                return true; // what follows the object is ignored, as by JSON_VALUE
            }
            if (b[i] != ',') {
                return false;
            }
            i = skipSpace(b, i + 1);
        }
    }

    private static final Object STRING = new Object();
    private static final Object NUMBER = new Object();
    private static final byte[] TRUE = {'t', 'r', 'u', 'e'};
    private static final byte[] FALSE = {'f', 'a', 'l', 's', 'e'};
    private static final byte[] NULL = {'n', 'u', 'l', 'l'};

    private static int skipSpace(byte[] b, int i) {
        while (i < b.length && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t')) {
            i++;
        }
        return i;
    }

    /** The index of the closing quote of a string of printable ASCII without escapes, or -1. */
    private static int plainStringEnd(byte[] b, int i) {
        while (i < b.length) {
            byte c = b[i];
            if (c == '"') {
                return i;
            }
            if (c < 0x20 || c == '\\' || c == 0x7f) { // control, escape; negative = non-ASCII
                return -1;
            }
            i++;
        }
        return -1;
    }

    private static boolean isDelimiter(byte c) {
        return c == ',' || c == '}' || c == ']' || c == ' ' || c == '\n' || c == '\r' || c == '\t';
    }

    private static boolean matches(byte[] b, int i, byte[] word) {
        if (i + word.length > b.length) {
            return false;
        }
        for (int k = 0; k < word.length; k++) {
            if (b[i + k] != word[k]) {
                return false;
            }
        }
        int end = i + word.length;
        return end == b.length || isDelimiter(b[end]);
    }

    private Step rootChild(byte[] b, int start, int end) {
        for (int k = 0; k < rootNames.length; k++) {
            byte[] name = rootNames[k];
            if (name.length == end - start && Arrays.equals(name, 0, name.length, b, start, end)) {
                return rootSteps[k];
            }
        }
        return null;
    }

    private static void readObject(JsonParser parser, Step step, Object[] values) throws Exception {
        JsonToken token;
        while ((token = parser.nextToken()) == JsonToken.FIELD_NAME) {
            Step child = step.children.get(parser.currentName());
            JsonToken value = parser.nextToken();
            if (child == null) {
                skip(parser, value);
                continue;
            }
            for (int i : child.below) {
                values[i] = null; // a repeated key replaces everything the earlier one held
            }
            if (value == JsonToken.START_OBJECT) {
                readObject(parser, child, values);
            } else if (value == JsonToken.START_ARRAY) {
                skip(parser, value);
            } else {
                Object scalar = scalar(parser, value);
                for (int i : child.ends) {
                    values[i] = scalar;
                }
            }
        }
        if (token != JsonToken.END_OBJECT) {
            throw new IllegalArgumentException("malformed object");
        }
    }

    /** Skips a value, reading every token (so that malformed JSON anywhere is an error, as in JSON_VALUE). */
    private static void skip(JsonParser parser, JsonToken token) throws Exception {
        int depth = 0;
        while (true) {
            if (token == null) {
                throw new IllegalArgumentException("unexpected end of input");
            }
            if (token == JsonToken.START_OBJECT || token == JsonToken.START_ARRAY) {
                depth++;
            } else if (token == JsonToken.END_OBJECT || token == JsonToken.END_ARRAY) {
                depth--;
            } else if (token == JsonToken.VALUE_STRING) {
                parser.getText(); // decodes escapes: a bad escape is an error
            } else if (token == JsonToken.VALUE_NUMBER_FLOAT) {
                parser.getDecimalValue();
            }
            if (depth == 0) {
                return;
            }
            token = parser.nextToken();
        }
    }

    private static Object scalar(JsonParser parser, JsonToken token) throws Exception {
        switch (token) {
            case VALUE_STRING:
                return StringData.fromString(parser.getText());
            case VALUE_NUMBER_INT:
                return StringData.fromString(parser.getNumberValue().toString());
            case VALUE_NUMBER_FLOAT:
                return StringData.fromString(parser.getDecimalValue().toString());
            case VALUE_TRUE:
                return StringData.fromString("true");
            case VALUE_FALSE:
                return StringData.fromString("false");
            default:
                return null; // null
        }
    }

    private void compile(String[] paths) {
        Step top = new Step();
        for (int i = 0; i < paths.length; i++) {
            String path = paths[i];
            if (path == null || !path.matches("\\$(\\.[A-Za-z_][A-Za-z0-9_]*)+")) {
                throw new IllegalArgumentException(
                        "SM_JSON_VALUES supports paths like '$.name' or '$.a.b', got: " + path);
            }
            Step step = top;
            for (String name : path.substring(2).split("\\.")) {
                step = step.children.computeIfAbsent(name, k -> new Step());
                step.below.add(i);
            }
            step.ends.add(i);
        }
        this.paths = paths.clone();
        this.root = top;
        this.rootNames = new byte[top.children.size()][];
        this.rootSteps = new Step[top.children.size()];
        int k = 0;
        for (Map.Entry<String, Step> e : top.children.entrySet()) {
            rootNames[k] = e.getKey().getBytes(java.nio.charset.StandardCharsets.UTF_8);
            rootSteps[k++] = e.getValue();
        }
    }
}
