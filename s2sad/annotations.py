"""The annotations stages attach to gast nodes, declared in one place.

Each stage reads a node's fields as gast defines them, plus these
attributes, set by the stage named.  They are facts about the node, shared
(not copied) by `trees.copy_node`, and never written by a later stage than
the one named.  `tests/test_architecture.py` checks that the code uses no
`s2sad_*` attribute missing here.
"""

ANNOTATIONS = {
    # normalize: the core form
    "s2sad_origin": "the user's statement a core statement came from (comments, errors)",
    "s2sad_update": "an item update or an in-place call (`x[i] = v`, `np.add.at`, `xs.append`)",
    "s2sad_copy_on_write": "the `x = x.copy()` placed before updating an argument or a shared array",
    "s2sad_augmented": "`a = a + b` written by the user as `a += b` (an in-place update in Python)",
    "s2sad_item_read": "`x[i]` read for `x[i] += v`, before the update",
    "s2sad_iteration": "the item a `for` loop over a sequence reads each trip",
    "s2sad_synthetic": "a statement the normaliser made up (no user line of its own to report)",
    "s2sad_as_statement": "`xs.pop()` called for its effect: no item is kept",
    "s2sad_dictcomp": "the user's dict comprehension over a dict's items a `dict(p)` marker stands for",
    "s2sad_word": "the word a temporary was named by (`x_shape_0`), for names made from it",
    "s2sad_hook": "`with s2sad.grad_of(h) as dh:`: (target, body, reads, assigned, alone)",
    # analyze
    "s2sad_global": "an attribute chain that reads a module global (`np.linalg.solve`), not a local",
    "s2sad_facts": "the statement's facts (versions read and written, activity, joins)",
    "s2sad_against_class": "a method call written against its class (`Model.f(self, x)`): not again",
    "s2sad_class": "the class (or generated function) a name in a rewritten call names",
    "s2sad_generated": "a call of a transform written as its generated function's: not again",
    # sweeps (reverse/, forward/)
    "s2sad_ref": "(name, version) of a local a Name reads or writes",
    "s2sad_effect": "a statement kept though nothing reads what it assigns",
    "s2sad_operand": "the operand (kind, varied) a rule parameter stands for, while inlining",
    "s2sad_pair": "the forward loop or branch a reverse one mirrors",
    "s2sad_trips": "the variable counting a loop's trips",
    "s2sad_trips_of": "the loop whose trip count this name reads",
    # templates (inlining)
    "s2sad_object": "the object a name in a rule's body stands for",
    "s2sad_factor": "a slope factor `g * slope` folds into (`g * c * x ** (c - 1)`)",
    # record
    "s2sad_recorded": "a value popped from a stack in the reverse sweep",
    "s2sad_push": "a push onto a stack, kept together at the start of its block",
    "s2sad_stack_kind": "the kind of the values a stack (`X = []`) holds, for compiled emission",
}
