"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 14:30:28.145485
"""

from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('event_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('event', sa.String(length=40), nullable=False),
    sa.Column('detail', sa.Text(), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('event_id', name=op.f('pk_audit_log'))
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_at'), ['at'], unique=False)

    op.create_table('loads',
    sa.Column('load_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('loaded_by', sa.String(length=80), nullable=False),
    sa.Column('loaded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('files', sa.Text(), nullable=False),
    sa.Column('rows_added', sa.Integer(), server_default='0', nullable=False),
    sa.Column('rows_changed', sa.Integer(), server_default='0', nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('summary', sa.Text(), server_default='', nullable=False),
    sa.PrimaryKeyConstraint('load_id', name=op.f('pk_loads'))
    )
    op.create_table('meta',
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_meta'))
    )
    op.create_table('users',
    sa.Column('username', sa.String(length=80), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('affiliate_ids', sa.Text(), server_default='', nullable=False),
    sa.Column('failed_attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role IN ('admin', 'board', 'fundraiser', 'affiliate_lead')", name=op.f('ck_users_role')),
    sa.PrimaryKeyConstraint('username', name=op.f('pk_users'))
    )
    op.create_table('affiliates',
    sa.Column('affiliate_id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('state', sa.String(length=2), nullable=False),
    sa.Column('city', sa.String(length=100), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('approximate_location', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('load_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("kind IN ('affiliate', 'licensed_partner', 'state_office')", name=op.f('ck_affiliates_kind')),
    sa.ForeignKeyConstraint(['load_id'], ['loads.load_id'], name=op.f('fk_affiliates_load_id_loads')),
    sa.PrimaryKeyConstraint('affiliate_id', name=op.f('pk_affiliates'))
    )
    with op.batch_alter_table('affiliates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_affiliates_state'), ['state'], unique=False)

    op.create_table('load_changes',
    sa.Column('change_id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('load_id', sa.Integer(), nullable=False),
    sa.Column('table_name', sa.String(length=40), nullable=False),
    sa.Column('row_key', sa.Text(), nullable=False),
    sa.Column('previous', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['load_id'], ['loads.load_id'], name=op.f('fk_load_changes_load_id_loads')),
    sa.PrimaryKeyConstraint('change_id', name=op.f('pk_load_changes'))
    )
    with op.batch_alter_table('load_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_load_changes_load_id'), ['load_id'], unique=False)

    op.create_table('partners',
    sa.Column('partner_id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('state', sa.String(length=2), nullable=False),
    sa.Column('city', sa.String(length=100), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('approximate_location', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('load_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['load_id'], ['loads.load_id'], name=op.f('fk_partners_load_id_loads')),
    sa.PrimaryKeyConstraint('partner_id', name=op.f('pk_partners'))
    )
    op.create_table('finances',
    sa.Column('affiliate_id', sa.String(length=40), nullable=False),
    sa.Column('school_year', sa.String(length=7), nullable=False),
    sa.Column('line', sa.String(length=10), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('amount_usd', sa.Float(), nullable=False),
    sa.Column('load_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("line IN ('revenue', 'expense')", name=op.f('ck_finances_line')),
    sa.CheckConstraint('amount_usd >= 0', name=op.f('ck_finances_amount')),
    sa.ForeignKeyConstraint(['affiliate_id'], ['affiliates.affiliate_id'], name=op.f('fk_finances_affiliate_id_affiliates')),
    sa.ForeignKeyConstraint(['load_id'], ['loads.load_id'], name=op.f('fk_finances_load_id_loads')),
    sa.PrimaryKeyConstraint('affiliate_id', 'school_year', 'line', 'category', name=op.f('pk_finances'))
    )
    with op.batch_alter_table('finances', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_finances_school_year'), ['school_year'], unique=False)

    op.create_table('schools',
    sa.Column('school_id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('affiliate_id', sa.String(length=40), nullable=False),
    sa.Column('state', sa.String(length=2), nullable=False),
    sa.Column('city', sa.String(length=100), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('approximate_location', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('level', sa.String(length=20), nullable=False),
    sa.Column('title_i', sa.Boolean(), nullable=False),
    sa.Column('locale', sa.String(length=10), nullable=False),
    sa.Column('load_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("level IN ('elementary', 'middle', 'high', 'multi_level', 'alternative', 'community_site')", name=op.f('ck_schools_level')),
    sa.CheckConstraint("locale IN ('city', 'suburb', 'town', 'rural')", name=op.f('ck_schools_locale')),
    sa.ForeignKeyConstraint(['affiliate_id'], ['affiliates.affiliate_id'], name=op.f('fk_schools_affiliate_id_affiliates')),
    sa.ForeignKeyConstraint(['load_id'], ['loads.load_id'], name=op.f('fk_schools_load_id_loads')),
    sa.PrimaryKeyConstraint('school_id', name=op.f('pk_schools'))
    )
    with op.batch_alter_table('schools', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_schools_affiliate_id'), ['affiliate_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_schools_state'), ['state'], unique=False)

    op.create_table('outcomes',
    sa.Column('school_id', sa.String(length=40), nullable=False),
    sa.Column('school_year', sa.String(length=7), nullable=False),
    sa.Column('tier', sa.Integer(), nullable=False),
    sa.Column('metric', sa.String(length=20), nullable=False),
    sa.Column('eligible', sa.Integer(), nullable=False),
    sa.Column('met', sa.Integer(), nullable=False),
    sa.Column('load_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('met >= 0 AND met <= eligible', name=op.f('ck_outcomes_met')),
    sa.CheckConstraint('tier IN (2, 3)', name=op.f('ck_outcomes_tier')),
    sa.ForeignKeyConstraint(['load_id'], ['loads.load_id'], name=op.f('fk_outcomes_load_id_loads')),
    sa.ForeignKeyConstraint(['school_id'], ['schools.school_id'], name=op.f('fk_outcomes_school_id_schools')),
    sa.PrimaryKeyConstraint('school_id', 'school_year', 'tier', 'metric', name=op.f('pk_outcomes'))
    )
    with op.batch_alter_table('outcomes', schema=None) as batch_op:
        batch_op.create_index('ix_outcomes_year_tier_metric', ['school_year', 'tier', 'metric'], unique=False)

    op.create_table('partnerships',
    sa.Column('partner_id', sa.String(length=40), nullable=False),
    sa.Column('school_id', sa.String(length=40), nullable=False),
    sa.Column('school_year', sa.String(length=7), nullable=False),
    sa.Column('category', sa.String(length=30), nullable=False),
    sa.Column('in_kind_usd', sa.Float(), nullable=False),
    sa.Column('volunteer_hours', sa.Float(), nullable=False),
    sa.Column('load_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('in_kind_usd >= 0 AND volunteer_hours >= 0', name=op.f('ck_partnerships_amounts')),
    sa.ForeignKeyConstraint(['load_id'], ['loads.load_id'], name=op.f('fk_partnerships_load_id_loads')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.partner_id'], name=op.f('fk_partnerships_partner_id_partners')),
    sa.ForeignKeyConstraint(['school_id'], ['schools.school_id'], name=op.f('fk_partnerships_school_id_schools')),
    sa.PrimaryKeyConstraint('partner_id', 'school_id', 'school_year', 'category', name=op.f('pk_partnerships'))
    )
    with op.batch_alter_table('partnerships', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_partnerships_school_id'), ['school_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_partnerships_school_year'), ['school_year'], unique=False)

    op.create_table('school_years',
    sa.Column('school_id', sa.String(length=40), nullable=False),
    sa.Column('school_year', sa.String(length=7), nullable=False),
    sa.Column('enrollment', sa.Integer(), nullable=False),
    sa.Column('students_served', sa.Integer(), nullable=False),
    sa.Column('tier1_students', sa.Integer(), nullable=False),
    sa.Column('tier2_students', sa.Integer(), nullable=False),
    sa.Column('tier3_students', sa.Integer(), nullable=False),
    sa.Column('site_coordinators', sa.Float(), nullable=False),
    sa.Column('volunteers', sa.Integer(), nullable=False),
    sa.Column('volunteer_hours', sa.Float(), nullable=False),
    sa.Column('load_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('site_coordinators >= 0 AND volunteers >= 0 AND volunteer_hours >= 0', name=op.f('ck_school_years_staff')),
    sa.CheckConstraint('students_served >= 0 AND students_served <= enrollment', name=op.f('ck_school_years_served')),
    sa.CheckConstraint('tier1_students >= 0 AND tier2_students >= 0 AND tier3_students >= 0 AND tier1_students <= students_served AND tier2_students <= students_served AND tier3_students <= students_served', name=op.f('ck_school_years_tiers')),
    sa.ForeignKeyConstraint(['load_id'], ['loads.load_id'], name=op.f('fk_school_years_load_id_loads')),
    sa.ForeignKeyConstraint(['school_id'], ['schools.school_id'], name=op.f('fk_school_years_school_id_schools')),
    sa.PrimaryKeyConstraint('school_id', 'school_year', name=op.f('pk_school_years'))
    )
    with op.batch_alter_table('school_years', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_school_years_school_year'), ['school_year'], unique=False)

    op.create_table('supports',
    sa.Column('school_id', sa.String(length=40), nullable=False),
    sa.Column('school_year', sa.String(length=7), nullable=False),
    sa.Column('tier', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=30), nullable=False),
    sa.Column('students', sa.Integer(), nullable=False),
    sa.Column('services', sa.Integer(), nullable=False),
    sa.Column('load_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('students >= 0 AND services >= 0', name=op.f('ck_supports_counts')),
    sa.ForeignKeyConstraint(['load_id'], ['loads.load_id'], name=op.f('fk_supports_load_id_loads')),
    sa.ForeignKeyConstraint(['school_id'], ['schools.school_id'], name=op.f('fk_supports_school_id_schools')),
    sa.PrimaryKeyConstraint('school_id', 'school_year', 'tier', 'category', name=op.f('pk_supports'))
    )
    with op.batch_alter_table('supports', schema=None) as batch_op:
        batch_op.create_index('ix_supports_year', ['school_year'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('supports', schema=None) as batch_op:
        batch_op.drop_index('ix_supports_year')

    op.drop_table('supports')
    with op.batch_alter_table('school_years', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_school_years_school_year'))

    op.drop_table('school_years')
    with op.batch_alter_table('partnerships', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_partnerships_school_year'))
        batch_op.drop_index(batch_op.f('ix_partnerships_school_id'))

    op.drop_table('partnerships')
    with op.batch_alter_table('outcomes', schema=None) as batch_op:
        batch_op.drop_index('ix_outcomes_year_tier_metric')

    op.drop_table('outcomes')
    with op.batch_alter_table('schools', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_schools_state'))
        batch_op.drop_index(batch_op.f('ix_schools_affiliate_id'))

    op.drop_table('schools')
    with op.batch_alter_table('finances', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_finances_school_year'))

    op.drop_table('finances')
    op.drop_table('partners')
    with op.batch_alter_table('load_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_load_changes_load_id'))

    op.drop_table('load_changes')
    with op.batch_alter_table('affiliates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_affiliates_state'))

    op.drop_table('affiliates')
    op.drop_table('users')
    op.drop_table('meta')
    op.drop_table('loads')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_at'))

    op.drop_table('audit_log')
