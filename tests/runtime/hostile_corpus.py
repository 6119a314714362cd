"""Hostile scripts and expressions, each with the error it must end in.

A case is ``(id, source, kind, what)``: ``kind`` is "refused" (ScriptRefused), "failed"
(ScriptFailed) or, for scripts, "memory" / "cpu" (the sandbox process broke its OS limit;
"cpu" also accepts the wall-clock kill or the time budget, whichever a loaded machine hits
first); ``what`` is a piece of the error's text (any one of a tuple). Scripts start with ``A``
when they use ``a``, a 100,000-character string; expressions get ``a`` and ``items`` as data.
"""

A = "a = 'x' * 100000\n"
CPU = ("the CPU limit", "the wall-clock limit", "budget")
ALLOCATE = "allocate more than"

SCRIPTS = [
    # result size of one operation (the width regex missed a mapping key before the width)
    ("percent_width_key", "x = '%(k)10000000d' % {'k': 1}", "refused", "'%' formatting"),
    ("percent_star", "x = '%*d' % (10**8, 1)", "refused", "'%' formatting"),
    ("percent_nested", A + "x = ('%s' * 100) % tuple([a] * 100)", "refused", "'%' formatting"),
    (
        "percent_nested_twice",
        A + "b = ('%s' * 9) % tuple([a[:10000]] * 9)\nx = ('%s' * 100) % tuple([b] * 100)",
        "refused",
        "'%' formatting",
    ),
    ("str_of_shared_list", A + "x = str([a] * 1000)", "refused", "str()"),
    ("fstring_of_shared_list", A + "x = f'{[a] * 1000}'", "refused", "f-string"),
    ("join_huge", "x = ','.join(['a' * 99999] * 10)", "refused", "join"),
    ("repeat_bytes", "x = b'a' * 10**9", "refused", "repetition"),
    ("bytes_builtin", "x = bytes(10**9)", "failed", "NameError"),
    ("power_huge", "x = 10 ** 10 ** 6", "refused", "'**'"),
    ("int_from_huge_text", "x = int('9' * 5000)", "failed", "ValueError"),
    ("ljust_huge", "x = 'a'.ljust(10**9)", "refused", "'.ljust'"),
    ("center_huge", "x = 'a'.center(10**9)", "refused", "'.center'"),
    ("zfill_huge", "x = '1'.zfill(10**9)", "refused", "'.zfill'"),
    ("expandtabs_huge", "x = ('\\t' * 9999).expandtabs(10**6)", "refused", "'.expandtabs'"),
    # memory of the script as a whole: only the OS limit sees it
    ("dict_of_shared_lists", A + "d = {}\nfor i in range(1000):\n    d[str(i)] = [a] * 99999", "memory", ""),
    ("list_growth", "x = []\nwhile True:\n    x.append('y' * 99990 + str(len(x)))", "memory", ""),
    ("comprehension_growth", "s = 'y' * 99990\nxs = [s + str(i) for i in range(5000)]", "memory", ""),
    (
        "fstrings_of_big_parts",
        A + "xs = [f'{a}{a}{a}{a}{a}{a}{a}{a}{a}{a}' for i in range(300)]",
        "memory",
        "",
    ),
    # CPU inside one C call
    ("colliding_set", "x = len(set([i * (2**61 - 1) for i in range(40000)]))", "cpu", CPU),
    ("colliding_dict_comprehension", "x = {i * (2**61 - 1): 1 for i in range(40000)}", "cpu", CPU),
    ("colliding_dict_loop", "d = {}\nfor i in range(10**5):\n    d[i * (2**61 - 1)] = i", "cpu", CPU),
    # C-level loops over ranges and huge data
    ("sum_range", "x = sum(range(10**8))", "refused", "range()"),
    ("max_range", "x = max(range(10**12))", "refused", "range()"),
    ("all_range", "x = all(i >= 0 for i in range(10**9))", "refused", "range()"),
    ("sorted_huge_nested", "x = sorted([[i] * 1000 for i in range(1000)])", "refused", "nested items"),
    ("str_of_square", "x = [[0] * 1000] * 1000\ny = str(x)", "refused", "nested items"),
    (
        "hash_of_shared_tuple",
        "t = (0,) * 99999\nfor i in range(10):\n    t = (t,) * 10\nx = {t: 1}",
        "refused",
        "nested items",
    ),
    ("nested_loops", "x = [0 for i in range(100000) for j in range(100000)]", "refused", "budget"),
    # recursion and deep nesting
    ("recursion", "def f(n):\n    return f(n + 1)\nx = f(0)", "failed", "RecursionError"),
    ("deep_data", "x = []\nfor i in range(100):\n    x = [x]", "refused", "nested too deeply"),
    ("deep_source", "x = " + "[" * 300 + "]" * 300, "refused", ("SyntaxError", "nested")),
    # result size of what the script leaves in task data
    ("result_too_long", "x = []\nfor i in range(100):\n    x.append('y' * 99999)", "refused", "characters"),
    ("result_too_many_values", "x = [[i] for i in range(60000)]", "refused", "values"),
]

EXPRESSIONS = [
    ("percent_width_key", "'%(k)10000000d' % {'k': 1}", "'%' formatting"),
    ("percent_star", "'%*d' % (10**8, 1)", "'%' formatting"),
    ("percent_nested", "('%s' * 100) % tuple([a] * 100)", ("'%' formatting", "nested items")),
    ("percent_nested_twice", "'%s%s' % ('%s%s' % (a, a), '%s%s' % (a, a))", "'%' formatting"),
    ("str_of_shared_list", "str([a] * 1000)", "str()"),
    ("fstring_of_shared_list", "f'{[a] * 1000}'", "f-string"),
    ("fstring_two_parts", "f'{a}{a}'", "f-string"),
    ("concat_too_long", "'x' * 99999 + 'yy'", "'+'"),
    ("repeat_data", "a * 10**9", "repetition"),
    ("repeat_list", "[0] * 99999 * 2", "repetition"),
    ("power_huge", "2 ** 10 ** 6", "'**'"),
    ("shift_huge", "1 << 10**6", "'<<'"),
    ("bytes_literal", "b'a' * 10**9", "bytes literals"),
    ("ljust_huge", "a.ljust(10**9)", "'.ljust'"),
    ("center_huge", "'a'.center(10**9)", "'.center'"),
    ("zfill_huge", "'1'.zfill(10**9)", "'.zfill'"),
    ("expandtabs_huge", "('\\t' * 9999).expandtabs(10**6)", "'.expandtabs'"),
    ("format_method", "'{0:>1000000000}'.format(1)", ".format"),
    ("colliding_set", "len(set([i * (2**61 - 1) for i in range(40000)]))", "set()"),
    ("colliding_set_comprehension", "len({i * (2**61 - 1) for i in range(40000)})", "a set would hold"),
    ("colliding_dict_comprehension", "len({i * (2**61 - 1): 1 for i in range(40000)})", "a dict would hold"),
    ("colliding_dict_pairs", "len(dict([(i * (2**61 - 1), 1) for i in range(5000)]))", "dict()"),
    ("colliding_tuples", "len(set([(i * (2**61 - 1),) for i in range(5000)]))", "set()"),
    ("sum_range", "sum(range(10**8))", "range()"),
    ("max_range", "max(range(10**12))", "range()"),
    ("min_range", "min(range(10**12))", "range()"),
    ("any_range", "any(i < 0 for i in range(10**9))", "range()"),
    ("all_range", "all(range(1, 10**9))", "range()"),
    ("nested_loops", "[i for i in range(99999) for j in range(99999)]", ("budget", ALLOCATE)),
    ("many_big_strings", "[a[:99999] + 'x' for i in range(99999)]", ALLOCATE),
    ("sorted_huge_nested", "sorted([items] * 99999)", "nested items"),
    ("sorted_allocating", "sorted([[i] * 1000 for i in range(1000)])", ALLOCATE),
    ("compare_shared", "[a] * 99999 == [a] * 99999", "nested items"),
    ("contains_shared", "a in [a[:-1] + 'b'] * 99999", "nested items"),
    ("hash_of_shared_tuple", "{((((0,) * 99999,) * 10,) * 10,) * 10: 1}", "nested items"),
    ("result_too_big", "[[0] * 1000] * 1000", "nested items"),
    ("split_huge", "(' ' * 99999).split(' ')", ALLOCATE),
    ("round_huge", "round(5, -10**9)", "round()"),
    ("deep_lists", "[" * 150 + "]" * 150, ("nested", "SyntaxError")),
    ("deep_unary", "-" * 5000 + "1", "nested"),
    ("lambda_recursion", "(lambda f: f(f))(lambda f: f(f))", "lambda"),
    ("walrus", "(x := 1)", ("assignment", "NamedExpr")),
    ("mutate_data", "items.append(1)", "changes a list value"),
    ("dunder", "items.__class__", "__class__"),
    ("import", "__import__('os')", "__import__"),
    ("open", "open('/etc/passwd')", '"open"'),
    ("type_stub", "type(1)", "type() is not available"),
]
